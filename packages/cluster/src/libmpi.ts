/**
 * The koffi binding to Open MPI's libmpi: the library loaded lazily, the handful of functions
 * convoy calls, and Open MPI's predefined handles.
 *
 * Open MPI only. Its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the addresses of
 * exported symbols (`ompi_mpi_comm_world`, ...), which koffi reads with `lib.symbol`. MPICH and its
 * derivatives (Intel MPI, MVAPICH) define the same handles as integer constants instead; a library
 * without `ompi_mpi_comm_world` is refused with a message saying so.
 */
/** The part of koffi's API used here (koffi's own types are ESM-only declarations). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type KoffiFunction = ((...args: any[]) => any) & { async: (...args: any[]) => void };
interface LibraryHandle {
  func(definition: string): KoffiFunction;
  symbol(name: string): unknown;
}
interface Koffi {
  load(path: string): LibraryHandle;
}

/** Why MPI cannot be used here; the message says what to install. */
export class MpiUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MpiUnavailableError';
  }
}

/** Open MPI's sonames (4.x and 5.x both ship libmpi.so.40), most specific first. */
export const LIBMPI_CANDIDATES = ['libmpi.so.40', 'libmpi.so'] as const;

export const INSTALL_HINT =
  'Install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev; RHEL/Fedora: dnf install openmpi), ' +
  'or set CONVOY_LIBMPI to the path of its libmpi.so';

/** Open MPI's mpi.h constants convoy needs. */
export const MPI_SUCCESS = 0;
export const MPI_THREAD_SERIALIZED = 2;
export const MPI_COMM_TYPE_SHARED = 0;
export const MPI_MAX_PROCESSOR_NAME = 256;
/** MPI_IN_PLACE is `(void *) 1` in Open MPI. */
export const MPI_IN_PLACE = 1n;

/** Pointers (handles) are BigInt addresses in koffi 3. */
export type Handle = bigint;

export interface Libmpi {
  /** Where it was loaded from, for messages. */
  readonly path: string;
  readonly handles: { commWorld: Handle; float: Handle; byte: Handle; sum: Handle; infoNull: Handle };
  readonly Initialized: KoffiFunction;
  readonly Finalized: KoffiFunction;
  readonly Init_thread: KoffiFunction;
  readonly Finalize: KoffiFunction;
  readonly Comm_rank: KoffiFunction;
  readonly Comm_size: KoffiFunction;
  readonly Comm_split_type: KoffiFunction;
  readonly Comm_free: KoffiFunction;
  readonly Get_processor_name: KoffiFunction;
  readonly Allreduce: KoffiFunction;
  readonly Bcast: KoffiFunction;
  readonly Allgather: KoffiFunction;
  readonly Barrier: KoffiFunction;
  readonly Abort: KoffiFunction;
  readonly Error_string: KoffiFunction;
}

let loaded: Libmpi | null = null;

/**
 * Loads libmpi (and koffi) on first use: `CONVOY_LIBMPI` if set, else Open MPI's sonames through
 * the dynamic linker's search path. A run that never asks for MPI never loads either.
 */
export function loadLibmpi(env: NodeJS.ProcessEnv = process.env): Libmpi {
  if (loaded) return loaded;
  // Lazy on purpose: koffi is only needed for a distributed run.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as Koffi;
  const candidates = env.CONVOY_LIBMPI ? [env.CONVOY_LIBMPI] : [...LIBMPI_CANDIDATES];
  const failures: string[] = [];
  let lib: LibraryHandle | null = null;
  let path = '';
  for (const candidate of candidates) {
    try {
      lib = koffi.load(candidate);
      path = candidate;
      break;
    } catch (err) {
      failures.push(`${candidate}: ${(err as Error).message}`);
    }
  }
  if (!lib) {
    throw new MpiUnavailableError(`a distributed run needs Open MPI's libmpi, which could not be loaded (${failures.join('; ')}). ${INSTALL_HINT}.`);
  }
  const symbol = (name: string): Handle => {
    try {
      return (lib).symbol(name) as Handle;
    } catch {
      throw new MpiUnavailableError(
        `${path} is not Open MPI's libmpi (it has no symbol ${name}): convoy's MPI binding supports Open MPI only, ` +
          `not MPICH or its derivatives, whose handles are integer constants. ${INSTALL_HINT}.`,
      );
    }
  };
  const handles = {
    commWorld: symbol('ompi_mpi_comm_world'),
    float: symbol('ompi_mpi_float'),
    byte: symbol('ompi_mpi_byte'),
    sum: symbol('ompi_mpi_op_sum'),
    infoNull: symbol('ompi_mpi_info_null'),
  };
  loaded = {
    path,
    handles,
    Initialized: lib.func('int MPI_Initialized(_Out_ int *flag)'),
    Finalized: lib.func('int MPI_Finalized(_Out_ int *flag)'),
    Init_thread: lib.func('int MPI_Init_thread(void *argc, void *argv, int required, _Out_ int *provided)'),
    Finalize: lib.func('int MPI_Finalize()'),
    Comm_rank: lib.func('int MPI_Comm_rank(void *comm, _Out_ int *rank)'),
    Comm_size: lib.func('int MPI_Comm_size(void *comm, _Out_ int *size)'),
    Comm_split_type: lib.func('int MPI_Comm_split_type(void *comm, int type, int key, void *info, _Out_ void **newcomm)'),
    Comm_free: lib.func('int MPI_Comm_free(_Inout_ void **comm)'),
    Get_processor_name: lib.func('int MPI_Get_processor_name(_Out_ uint8_t *name, _Out_ int *len)'),
    Allreduce: lib.func('int MPI_Allreduce(void *sendbuf, void *recvbuf, int count, void *datatype, void *op, void *comm)'),
    Bcast: lib.func('int MPI_Bcast(void *buffer, int count, void *datatype, int root, void *comm)'),
    Allgather: lib.func('int MPI_Allgather(void *sendbuf, int sendcount, void *sendtype, void *recvbuf, int recvcount, void *recvtype, void *comm)'),
    Barrier: lib.func('int MPI_Barrier(void *comm)'),
    Abort: lib.func('int MPI_Abort(void *comm, int errorcode)'),
    Error_string: lib.func('int MPI_Error_string(int errorcode, _Out_ uint8_t *string, _Out_ int *resultlen)'),
  };
  return loaded;
}
