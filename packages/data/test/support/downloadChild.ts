// Child process for the kill test: downloads into argv[3] from argv[4] and never returns normally
// (the test kills it mid-transfer).
import { loadCifar10 } from '../../src';

const [target, url, md5] = process.argv.slice(3);
loadCifar10({ cacheDir: target, env: {}, url, md5, recordsPerFile: 3, stallTimeoutMs: 60_000, onProgress: () => undefined }).then(
  () => process.exit(0),
  (err) => {
    console.error(err.message);
    process.exit(1);
  },
);
