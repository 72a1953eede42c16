export { Cluster, ClusterTimeoutError, initCluster, MpiCallError } from './cluster';
export type { ClusterOptions } from './cluster';
export { INSTALL_HINT, LIBMPI_CANDIDATES, MpiUnavailableError } from './libmpi';
export { mpiLaunch } from './launch';
export type { MpiLaunch } from './launch';
export { localMpirunArgs } from './mpirun';
