import { cifar10TestImages } from '../test/exportNetwork';
import { describeOnnxExport, describeSafetensorsExport } from '../test/exportChecks';

const dataDir = process.env.CIFAR10_DIR;
if (!dataDir) throw new Error('the e2e checks need real CIFAR-10: set CIFAR10_DIR to the folder holding test_batch.bin');

// The exports against PyTorch and onnxruntime on real CIFAR-10 test images.
const images = cifar10TestImages(dataDir, 100);
describeSafetensorsExport(images);
describeOnnxExport(images);
