import { describeOnnxExport, describeSafetensorsExport } from './exportChecks';
import { imagesForExportChecks } from './exportNetwork';

// Real CIFAR-10 test images when CIFAR10_DIR is set, seeded pixels otherwise (the e2e target runs
// the same checks on real images always).
const images = imagesForExportChecks(16);
describeSafetensorsExport(images);
describeOnnxExport(images);
