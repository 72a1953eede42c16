import { loadLibmpi, MPI_COMM_TYPE_SHARED, MPI_IN_PLACE, MPI_MAX_PROCESSOR_NAME, MPI_SUCCESS, MPI_THREAD_SERIALIZED, type Handle, type Libmpi } from './libmpi';

/** An MPI call did not complete within the cluster's time-out: some rank stopped answering. */
export class ClusterTimeoutError extends Error {
  constructor(readonly operation: string, readonly seconds: number) {
    super(`${operation} has waited ${seconds} s for the other ranks: a rank stopped answering (hung, stopped, or its host is unreachable)`);
    this.name = 'ClusterTimeoutError';
  }
}

/** An MPI function returned an error code. */
export class MpiCallError extends Error {
  constructor(readonly operation: string, readonly code: number, detail: string) {
    super(`${operation} failed: MPI error ${code} (${detail})`);
    this.name = 'MpiCallError';
  }
}

export interface ClusterOptions {
  /**
   * Seconds any one collective may wait for the other ranks before it fails with a
   * ClusterTimeoutError (the MPI call itself cannot be cancelled: the caller should abort). Default
   * none: wait forever.
   */
  timeoutSeconds?: number | null;
  env?: NodeJS.ProcessEnv;
}

type AsyncCall = (done: (err: unknown, code: number) => void) => void;

let initialized = false;

/**
 * This process's place in an MPI job (MPI_COMM_WORLD) and the collectives convoy needs. Made once
 * per process by `initCluster`, after which it lives until `finalize` or `abort`.
 *
 * Collectives run as koffi asynchronous calls on libuv's worker threads, so the event loop stays
 * free while one waits for the network (timers fire; the trainer can time a step out). Different
 * calls may land on different threads, so MPI is initialised with MPI_THREAD_SERIALIZED and calls
 * are queued here so that only one is ever in flight. Buffers must live on SharedArrayBuffers: MPI
 * reads and writes them from another thread while JavaScript runs on.
 */
export class Cluster {
  readonly rank: number;
  readonly size: number;
  /** This rank's index among the ranks on its host (MPI_Comm_split_type SHARED), and their number. */
  readonly localRank: number;
  readonly localSize: number;
  /** MPI_Get_processor_name: the host name as MPI knows it. */
  readonly host: string;
  /** The libmpi that was loaded. */
  readonly library: string;
  timeoutSeconds: number | null;
  private tail: Promise<unknown> = Promise.resolve();
  private localComm: Handle | null;
  private finalized = false;

  private constructor(private readonly mpi: Libmpi, options: ClusterOptions) {
    this.library = mpi.path;
    this.timeoutSeconds = options.timeoutSeconds ?? null;
    const world = mpi.handles.commWorld;
    this.rank = this.outInt('MPI_Comm_rank', (out) => mpi.Comm_rank(world, out));
    this.size = this.outInt('MPI_Comm_size', (out) => mpi.Comm_size(world, out));
    const local: [Handle | null] = [null];
    this.check('MPI_Comm_split_type', mpi.Comm_split_type(world, MPI_COMM_TYPE_SHARED, this.rank, mpi.handles.infoNull, local));
    this.localComm = local[0];
    this.localRank = this.outInt('MPI_Comm_rank (host)', (out) => mpi.Comm_rank(this.localComm, out));
    this.localSize = this.outInt('MPI_Comm_size (host)', (out) => mpi.Comm_size(this.localComm, out));
    const name = new Uint8Array(MPI_MAX_PROCESSOR_NAME);
    const length = this.outInt('MPI_Get_processor_name', (out) => mpi.Get_processor_name(name, out));
    this.host = Buffer.from(name.subarray(0, length)).toString('utf8');
  }

  /** MPI_Init_thread (SERIALIZED) on the first call; throws MpiUnavailableError when libmpi cannot be loaded. */
  static init(options: ClusterOptions = {}): Cluster {
    if (initialized) throw new Error('initCluster: MPI is already initialised in this process (MPI allows it once)');
    const mpi = loadLibmpi(options.env);
    const provided = [0];
    const code = mpi.Init_thread(null, null, MPI_THREAD_SERIALIZED, provided) as number;
    if (code !== MPI_SUCCESS) throw new MpiCallError('MPI_Init_thread', code, errorString(mpi, code));
    initialized = true;
    if (provided[0] < MPI_THREAD_SERIALIZED) {
      mpi.Abort(mpi.handles.commWorld, 1);
      throw new Error(`MPI_Init_thread: ${mpi.path} provides thread level ${provided[0]}, convoy needs MPI_THREAD_SERIALIZED (${MPI_THREAD_SERIALIZED}); use an Open MPI built with thread support`);
    }
    return new Cluster(mpi, options);
  }

  /** "rank 1/4 on host b". */
  describe(): string {
    return `rank ${this.rank}/${this.size} on host ${this.host}`;
  }

  /** In place: `values` becomes the element-wise float32 sum of every rank's `values` (MPI_Allreduce, MPI_IN_PLACE). */
  allReduce(values: Float32Array, what = `all-reduce of ${values.length} floats`): Promise<void> {
    requireShared(values, 'allReduce');
    const { float, sum, commWorld } = this.mpi.handles;
    return this.enqueue(what, (done) => this.mpi.Allreduce.async(MPI_IN_PLACE, values, values.length, float, sum, commWorld, done));
  }

  /** In place: every rank's `values` become root's (MPI_Bcast of the bytes). */
  broadcast(values: Float32Array | Uint8Array, root = 0): Promise<void> {
    requireShared(values, 'broadcast');
    this.checkRank(root, 'broadcast root');
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    const { byte, commWorld } = this.mpi.handles;
    return this.enqueue(`broadcast of ${bytes.length} bytes from rank ${root}`, (done) => this.mpi.Bcast.async(bytes, bytes.length, byte, root, commWorld, done));
  }

  /** Every rank's `bytes` (all ranks must pass the same length), in rank order (MPI_Allgather). */
  async allGather(bytes: Uint8Array): Promise<Uint8Array[]> {
    const send = new Uint8Array(new SharedArrayBuffer(bytes.length));
    send.set(bytes);
    const receive = new Uint8Array(new SharedArrayBuffer(bytes.length * this.size));
    const { byte, commWorld } = this.mpi.handles;
    await this.enqueue(`all-gather of ${bytes.length} bytes`, (done) => this.mpi.Allgather.async(send, bytes.length, byte, receive, bytes.length, byte, commWorld, done));
    return Array.from({ length: this.size }, (_, r) => receive.slice(r * bytes.length, (r + 1) * bytes.length));
  }

  barrier(): Promise<void> {
    return this.enqueue('barrier', (done) => this.mpi.Barrier.async(this.mpi.handles.commWorld, done));
  }

  /**
   * MPI_Abort: the launcher ends every rank of the job (Open MPI's mpirun kills them and prints
   * which rank aborted). Called from the main thread even while a collective waits on a worker
   * thread: the one call MPI_THREAD_SERIALIZED is bent for, because it only tells the runtime to
   * tear the job down.
   */
  abort(code = 1): never {
    this.mpi.Abort(this.mpi.handles.commWorld, code);
    process.exit(code); // not reached: MPI_Abort does not return
  }

  /** Waits for queued collectives, then MPI_Finalize. */
  async finalize(): Promise<void> {
    if (this.finalized) return;
    this.finalized = true;
    await this.tail.catch(() => undefined);
    if (this.localComm !== null) {
      this.check('MPI_Comm_free', this.mpi.Comm_free([this.localComm]));
      this.localComm = null;
    }
    this.check('MPI_Finalize', this.mpi.Finalize());
  }

  private enqueue(operation: string, call: AsyncCall): Promise<void> {
    if (this.finalized) return Promise.reject(new Error(`${operation}: MPI has been finalised`));
    const run = () =>
      new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | null = null;
        if (this.timeoutSeconds !== null) {
          const seconds = this.timeoutSeconds;
          timer = setTimeout(() => reject(new ClusterTimeoutError(operation, seconds)), seconds * 1000);
        }
        call((err, code) => {
          if (timer) clearTimeout(timer);
          if (err) reject(new Error(`${operation}: ${err instanceof Error ? err.message : JSON.stringify(err)}`));
          else if (code !== MPI_SUCCESS) reject(new MpiCallError(operation, code, errorString(this.mpi, code)));
          else resolve();
        });
      });
    const result = this.tail.then(run, run);
    // The queue moves on only when the MPI call has really returned (a timed-out call still holds MPI).
    this.tail = result.catch(() => undefined);
    return result;
  }

  private outInt(operation: string, call: (out: number[]) => number): number {
    const out = [0];
    this.check(operation, call(out));
    return out[0];
  }

  private check(operation: string, code: number): void {
    if (code !== MPI_SUCCESS) throw new MpiCallError(operation, code, errorString(this.mpi, code));
  }

  private checkRank(rank: number, what: string): void {
    if (!Number.isInteger(rank) || rank < 0 || rank >= this.size) throw new RangeError(`${what} ${rank} is not a rank of this job (0..${this.size - 1})`);
  }
}

function requireShared(values: Float32Array | Uint8Array, operation: string): void {
  if (!(values.buffer instanceof SharedArrayBuffer)) {
    throw new TypeError(`${operation}: the array must live on a SharedArrayBuffer (MPI reads and writes it from another thread while JavaScript runs on)`);
  }
}

function errorString(mpi: Libmpi, code: number): string {
  const text = new Uint8Array(512);
  const length = [0];
  if (mpi.Error_string(code, text, length) !== MPI_SUCCESS) return 'unknown error';
  return Buffer.from(text.subarray(0, length[0])).toString('utf8');
}

/** Initialises MPI for this process; see Cluster. */
export function initCluster(options: ClusterOptions = {}): Cluster {
  return Cluster.init(options);
}
