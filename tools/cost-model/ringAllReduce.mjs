#!/usr/bin/env node
// The ring all-reduce cost model of docs/DISTRIBUTED.md, printed as the Markdown tables there:
//   T(N) = 2 (N-1)/N * S/B + 2 (N-1) * alpha
// (N hosts, S bytes of float32 gradient, B bytes/s per link, alpha seconds per hop), and the
// parallel efficiency of a synchronous step whose all-reduce does not overlap the computation:
//   E(N) = C/N / (C/N + T(N)),  C = global batch / images per second of one host.
// Usage: node tools/cost-model/ringAllReduce.mjs [alphaMicroseconds=30] [hostImagesPerSecond=3000]
const alpha = Number(process.argv[2] ?? 30) * 1e-6;
const hostRate = Number(process.argv[3] ?? 3000);
const hosts = [2, 4, 8, 16, 32, 64];
const links = [1, 10, 25];
const nets = [
  { name: "convoy's recipe net (0.29 M parameters, 1.15 MB)", bytes: 288_298 * 4 },
  { name: 'an 11 M-parameter net (ResNet-18 size, 44 MB)', bytes: 11_000_000 * 4 },
];
const ms = (s) => (s * 1000 < 10 ? (s * 1000).toFixed(2) : (s * 1000).toFixed(1));
const ring = (n, bytes, gbit) => ((2 * (n - 1)) / n) * (bytes / ((gbit * 1e9) / 8)) + 2 * (n - 1) * alpha;

for (const net of nets) {
  console.log(`\n**${net.name}**: all-reduce time in ms (alpha = ${Math.round(alpha * 1e6)} µs per hop)\n`);
  console.log(`| hosts N | ${links.map((g) => `${g} Gbit/s`).join(' | ')} |`);
  console.log(`|---:|${links.map(() => '---:').join('|')}|`);
  for (const n of hosts) console.log(`| ${n} | ${links.map((g) => ms(ring(n, net.bytes, g))).join(' | ')} |`);
}

for (const batch of [128, 1024]) {
  const net = nets[0];
  console.log(`\n**Efficiency, recipe net, global batch ${batch}**, hosts of ${hostRate} images/s each (no overlap)\n`);
  console.log(`| hosts N | compute ms/step | ${links.map((g) => `${g} Gbit/s`).join(' | ')} |`);
  console.log(`|---:|---:|${links.map(() => '---:').join('|')}|`);
  for (const n of hosts) {
    const compute = batch / n / hostRate;
    const effs = links.map((g) => `${((100 * compute) / (compute + ring(n, net.bytes, g))).toFixed(0)}%`);
    console.log(`| ${n} | ${ms(compute)} | ${effs.join(' | ')} |`);
  }
}
