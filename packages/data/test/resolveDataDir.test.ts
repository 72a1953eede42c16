import * as os from 'os';
import * as path from 'path';
import { resolveDataDir } from '../src';

describe('resolveDataDir', () => {
  test('--data-dir wins, then CIFAR10_DIR, then the cache', () => {
    const env = { CIFAR10_DIR: '/data/env', XDG_CACHE_HOME: '/xdg', HOME: '/home/u' };
    expect(resolveDataDir({ dataDir: '/data/flag', env })).toEqual({ dir: '/data/flag', source: '--data-dir' });
    expect(resolveDataDir({ env })).toEqual({ dir: '/data/env', source: 'CIFAR10_DIR' });
    expect(resolveDataDir({ env: { XDG_CACHE_HOME: '/xdg', HOME: '/home/u' } })).toEqual({ dir: '/xdg/convoy/cifar-10', source: 'cache' });
  });

  test('the cache is ~/.cache/convoy/cifar-10 without an (absolute) XDG_CACHE_HOME', () => {
    expect(resolveDataDir({ env: { HOME: '/home/u' } }).dir).toBe('/home/u/.cache/convoy/cifar-10');
    expect(resolveDataDir({ env: { HOME: '/home/u', XDG_CACHE_HOME: 'relative/cache' } }).dir).toBe('/home/u/.cache/convoy/cifar-10');
    expect(resolveDataDir({ env: {} }).dir).toBe(path.join(os.homedir(), '.cache', 'convoy', 'cifar-10'));
  });

  test('empty values count as unset; relative paths become absolute; cacheDir replaces the cache folder', () => {
    expect(resolveDataDir({ dataDir: '', env: { CIFAR10_DIR: '', HOME: '/h' } }).source).toBe('cache');
    expect(resolveDataDir({ dataDir: 'rel/dir', env: {} }).dir).toBe(path.resolve('rel/dir'));
    expect(resolveDataDir({ cacheDir: '/tmp/c10', env: { HOME: '/h' } })).toEqual({ dir: '/tmp/c10', source: 'cache' });
  });
});
