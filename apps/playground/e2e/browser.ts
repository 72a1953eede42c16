import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (tools/ci/setup-chromium.sh installs it); CHROMIUM_PATH overrides. Never a downloaded browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless, offline-quiet, no sandbox (CI runs as root), no GPU. */
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Chromium on a fresh profile (removed by close). */
export async function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install it with \`bash tools/ci/setup-chromium.sh\` (apt-get install chromium), or set CHROMIUM_PATH`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'convoy-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_FLAGS, acceptDownloads: true, viewport: { width: 1200, height: 1000 } });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** `vite preview` of the built page (dist/), with the cross-origin isolation headers and CIFAR10_DIR under /cifar10/. */
export async function previewServer(cifar10Dir: string): Promise<{ url: string; close: () => void }> {
  const root = join(__dirname, '..');
  if (!existsSync(join(root, 'dist', 'index.html'))) throw new Error('the page is not built: run npx nx run playground:build first');
  const port = await freePort();
  const vite = join(root, '..', '..', 'node_modules', 'vite', 'bin', 'vite.js');
  const child = spawn(process.execPath, [vite, 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: root,
    env: { ...process.env, CIFAR10_DIR: cifar10Dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (data: Buffer) => (output += String(data)));
  child.stderr?.on('data', (data: Buffer) => (output += String(data)));
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const url = `http://127.0.0.1:${port}/`;
  // Ready when it answers (its console output is coloured differently under Nx, so not parsed).
  for (const started = Date.now(); ; ) {
    if (exited !== undefined) throw new Error(`vite preview exited with ${exited}: ${output}`);
    try {
      if ((await fetch(url)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() - started > 30_000) {
      child.kill();
      throw new Error(`vite preview did not answer at ${url} within 30 s: ${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { url, close: () => void child.kill() };
}

/**
 * Serves the built page with `cifar10Dir`, opens it in a fresh Chromium and runs `use` with the
 * page, the server's address and the page's uncaught errors (collected as they come); the browser
 * and the server are closed however `use` ends.
 */
export async function withPlaygroundPage<T>(cifar10Dir: string, use: (page: Page, url: string, pageErrors: string[]) => Promise<T>): Promise<T> {
  const server = await previewServer(cifar10Dir);
  let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
  try {
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return await use(page, server.url, pageErrors);
  } finally {
    await browser?.close();
    server.close();
  }
}
