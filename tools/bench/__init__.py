"""Benchmark the whole stack over HTTP, CityLink against Rasa's stock pipeline (make bench).

The package splits by concern: `load` (conversations and virtual citizens),
`procstats` (CPU and memory of the processes, psutil), `stats` (percentiles,
throughput), `report` (figures, tables, bench.json), `plots`, `run` (training
and one configuration end to end) and `cli` (arguments and the whole run).

For each configuration (ours: config.yml; stock: configs/stock.yml) this
measures, in one run and on one otherwise idle machine:

* training time: `rasa train --force` into a temporary directory (and the
  peak memory of the training process tree);
* cold start: from spawning `rasa run` to the first successful answer to a
  real message ("你好") on the REST channel;
* latency p50/p95/p99 and throughput at 1, 8 and 32 concurrent virtual
  citizens. Each citizen is a closed loop: it replays multi-turn Chinese
  conversations (seeded choice from CONVERSATIONS, a fresh sender id per
  conversation) and sends its next message only when the answer to the
  previous one has arrived. Latency is measured client-side (aiohttp, one
  session with one pooled connection per citizen); throughput is successful
  answers completed inside the measurement window divided by its length.
  A warm-up precedes each window and is not counted;
* CPU: the share of a core each process used during each level (bot,
  action server, simulator, and this load generator), from /proc;
* peak memory: the largest resident set (VmRSS, summed over the process and
  its children) of the bot, sampled from /proc every 0.2 s from spawn to
  stop, or the bot process's own VmHWM if that is larger.

Both bots use the same action server; the simulated backends are restarted
with a fresh database (and the tracker store is fresh) for each
configuration. Only one bot runs at a time, on the same port.

Output: a table (ours, stock, ours/stock), results/bench.json and
results/bench_latency.png, results/bench_throughput.png.

    python -m tools.bench                      # everything (~45 min on 2 cores, mostly stock training)
    python -m tools.bench --skip-train         # reuse models/*.tar.gz
    python -m tools.bench --quick              # smoke run: 3 s per level, ours only
    python -m tools.bench --levels 1,8 --duration 30 --skip-stock
"""
