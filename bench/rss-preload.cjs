// Preloaded into a benchmarked process (node --require): reports its peak resident set size on exit, on stderr.
process.on('exit', () => {
  process.stderr.write(`HUB_BENCH_MAXRSS_KB ${process.resourceUsage().maxRSS}\n`);
});
