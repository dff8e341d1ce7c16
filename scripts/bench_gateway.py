#!/usr/bin/env python3
"""./scripts/bench gateway: requests/s and latency straight to an airlock-sim engine vs through
airlockd (HTTPS, auth, admission, proxy, ledger row), in one run, with wrk as the load generator.
Non-streamed chat, small payload, fixed connection count; then streamed chat (--stream-tokens
tokens per answer, 4 connections) for the CPU each streamed token costs, and streams from an engine
that paces its tokens as a GPU does (--paced-rate). Four references are measured too, each a TLS
proxy to the same engine that does nothing else (--reference, default all four): Debian's nginx
(what a bare reverse proxy costs on this machine), and `airlock-bench bare-proxy` as bare SwiftNIO
channel handlers (nio), as Hummingbird's server with a bare SwiftNIO client (hb_nio) and as
airlockd's own stack, Hummingbird 2 and async-http-client, without Airlock's work (stack). Last
line: RESULT gateway …"""

import argparse
import functools
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import ssl
import json
import shutil
import socket

BIN = os.environ.get("AIRLOCK_BENCH_BIN", ".build-release/release")


def run(*args, env=None):
    return subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout


CHAT = '{"model":"bench","messages":[{"role":"user","content":"hello there"}],"max_tokens":4}'


def streamed_chat(tokens, model="bench"):
    return f'{{"model":"{model}","messages":[{{"role":"user","content":"hello there"}}],"max_tokens":{tokens},"stream":true}}'


def start_sim(model, tokens_per_second):
    """An airlock-sim engine on a free port: (process, port)."""
    sim = subprocess.Popen([f"{BIN}/airlock-sim", "--port", "0", "--model", model, "--tokens-per-second", str(tokens_per_second)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return sim, int(sim.stdout.readline().strip().split("=")[1])


def wrk(url, key, seconds, connections, threads, body=CHAT):
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write('wrk.method = "POST"\n'
                 f"wrk.body = '{body}'\n"
                 'wrk.headers["Content-Type"] = "application/json"\n'
                 + (f'wrk.headers["Authorization"] = "Bearer {key}"\n' if key else ""))
    script.close()
    out = run("wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url)
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def micros(label):
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "requests": requests, "p50": micros("50"), "p99": micros("99"), "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(0) if errors else ""}


def cpu_seconds(pid):
    """User + system CPU a process has used so far, in seconds (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(url, key, seconds, connections, threads, pids, body=CHAT):
    """One wrk run, with the CPU each of `pids` (name -> pid, or a list of pids summed) spent per
    request during it."""
    def cpu(pid):
        return sum(cpu_seconds(one) for one in pid) if isinstance(pid, list) else cpu_seconds(pid)
    before = {name: cpu(pid) for name, pid in pids.items()}
    result = wrk(url, key, seconds, connections, threads, body)
    result["cpu_us"] = {name: (cpu(pid) - before[name]) / max(result["requests"], 1) * 1e6 for name, pid in pids.items()}
    return result


NGINX = """daemon off;
worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  upstream engine {{ server 127.0.0.1:{engine_port}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {tls}/server.crt;
    ssl_certificate_key {tls}/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {{ proxy_pass http://engine; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
"""


def start_nginx(work, port, engine_port):
    """Debian's nginx with airlockd's own certificate, proxying to the engine and doing nothing else
    (upstream keep-alive as airlockd's pool has): (master process, pids of its workers)."""
    config = os.path.join(work, "nginx.conf")
    with open(config, "w") as f:
        f.write(NGINX.format(work=work, port=port, engine_port=engine_port, tls=f"{work}/data/tls"))
    master = subprocess.Popen(["nginx", "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        children = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True).stdout
        workers = children.split() if master.poll() is None else []
        if workers and port_open(port):
            return master, [int(pid) for pid in workers]
        time.sleep(0.1)
    stop(master)  # never leave a proxy behind on the bench's port
    raise SystemExit(f"nginx did not start; see {work}/nginx.log")


def stop(process):
    """Terminates `process`, and kills it if it is still there after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_bare_proxy(work, port, engine_port, stack):
    """`airlock-bench bare-proxy --stack STACK` (nio, hummingbird-nio or hummingbird), a TLS proxy to the
    engine that does nothing else: (process, [its pid])."""
    proxy = subprocess.Popen([f"{BIN}/airlock-bench", "bare-proxy", "--port", str(port), "--engine-port", str(engine_port),
                              "--certificate", f"{work}/data/tls/server.crt", "--key", f"{work}/data/tls/server.key",
                              "--stack", stack], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if proxy.poll() is None and port_open(port):
            return proxy, [proxy.pid]
        time.sleep(0.1)
    stop(proxy)
    raise SystemExit(f"airlock-bench bare-proxy --stack {stack} did not start")


# name -> (table label, start(work, port, engine_port)): the proxies that do nothing but forward.
# In order of cost: the steps from nio to stack price Hummingbird's server, then async-http-client.
REFERENCES = {
    "nginx": ("nginx", start_nginx),
    "nio": ("bare SwiftNIO", functools.partial(start_bare_proxy, stack="nio")),
    "hb_nio": ("Hummingbird+NIO client", functools.partial(start_bare_proxy, stack="hummingbird-nio")),
    "stack": ("Hummingbird+AHC", functools.partial(start_bare_proxy, stack="hummingbird")),
}


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def paced_streams(host, port, key, connections, each, body, pids, cafile=None):
    """`connections` clients each reading `each` whole streams one after another (Python's
    http.client: wrk would count a stream cut off at the end of its run as none, yet its tokens
    cost CPU). Returns tokens (SSE events other than [DONE]), streams that failed, wall seconds and
    CPU µs per token."""
    import http.client
    import threading
    tokens, failed = [], []
    def client():
        if cafile:
            connection = http.client.HTTPSConnection(host, port, context=ssl.create_default_context(cafile=cafile))
        else:
            connection = http.client.HTTPConnection(host, port)
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
        for _ in range(each):
            connection.request("POST", "/v1/chat/completions", body, headers)
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                failed.append(data[:200])
                continue
            tokens.append(data.count(b"data: ") - data.count(b"data: [DONE]"))
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    start = time.time()
    threads = [threading.Thread(target=client) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(tokens)
    return {"tokens": total, "failed": len(failed), "seconds": time.time() - start,
            "cpu_us": {name: (cpu_seconds(pid) - before[name]) / max(total, 1) * 1e6 for name, pid in pids.items()}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stream-tokens", type=int, default=200,
                        help="tokens per streamed chat in the streaming runs (4 connections); 0 skips them")
    parser.add_argument("--paced-rate", type=int, default=100,
                        help="tokens/s of the paced engine (100-token streams, --paced-streams at once), as a GPU engine "
                             "sends them; 0 skips that run")
    parser.add_argument("--paced-streams", type=int, default=16,
                        help="paced streams at once (each client reads 4 in turn), all on the one paced engine")
    parser.add_argument("--reference", default=",".join(REFERENCES),
                        help="bare TLS proxies to the same engine to measure too, comma-separated: nginx (Debian's), nio "
                             "(bare SwiftNIO handlers), hb_nio (Hummingbird's server, a bare SwiftNIO client), stack "
                             "(Hummingbird + async-http-client: airlockd's stack without Airlock's work); none skips them")
    args = parser.parse_args()
    wanted = [] if args.reference == "none" else args.reference.split(",")
    if unknown := [name for name in wanted if name not in REFERENCES]:
        raise SystemExit(f"--reference: unknown {', '.join(unknown)} (choose from {', '.join(REFERENCES)}, or none)")
    if "nginx" in wanted and not shutil.which("nginx"):
        raise SystemExit("nginx is not installed (scripts/bench installs it); --reference nio,hb_nio,stack leaves it out")

    work = tempfile.mkdtemp(prefix="airlock-bench-gateway-")
    # model -> (process, port): the instant engine, and the paced one only if its run is wanted.
    engines = {"bench": start_sim("bench", 0)}
    if args.paced_rate:
        engines["paced"] = start_sim("paced", args.paced_rate)
    sim, sim_port = engines["bench"]
    port = 18000 + os.getpid() % 1000
    unlimited = "requests_per_minute = 100000000\ntokens_per_minute = 1000000000000\nconcurrency = 100000\n"
    config = os.path.join(work, "airlock.toml")
    with open(config, "w") as f:
        f.write(f'data_dir = "{work}/data"\n[api]\nlisten = "127.0.0.1:{port}"\n'
                + "".join(f"[limits.{layer}]\n{unlimited}" for layer in ("global", "org", "env", "key"))
                + "".join(f'[[engines]]\nname = "{model}"\nmodel = "{model}"\nurl = "http://127.0.0.1:{engine_port}"\n'
                          'capacity_tokens_per_second = 1000000\n' for model, (_, engine_port) in engines.items()))
    env = dict(os.environ, AIRLOCK_CONFIG=config, LOG_LEVEL="notice")
    run(f"{BIN}/airlockd", "init", env=env)
    run(f"{BIN}/airlock", "org", "create", "bench", env=env)
    run(f"{BIN}/airlock", "env", "create", "bench", "load", env=env)
    key = json.loads(run(f"{BIN}/airlock", "--json", "key", "create", "bench", "load", env=env))["key"]
    daemon = subprocess.Popen([f"{BIN}/airlockd", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = None
    try:
        for _ in range(300):
            try:
                context = ssl.create_default_context(cafile=f"{work}/data/tls/ca.crt")
                urllib.request.urlopen(f"https://127.0.0.1:{port}/readyz", context=context, timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        direct_url = f"http://127.0.0.1:{sim_port}/v1/chat/completions"
        airlock_url = f"https://127.0.0.1:{port}/v1/chat/completions"
        wrk(direct_url, None, 2, args.connections, args.threads)  # warm-up
        wrk(airlock_url, key, 2, args.connections, args.threads)
        pids = {"engine": sim.pid, "proxy": daemon.pid}
        # Unloaded: one connection, so latency is the path's own cost, not queueing.
        idle_direct = measured(direct_url, None, max(args.seconds // 2, 2), 1, 1, pids)
        idle_airlock = measured(airlock_url, key, max(args.seconds // 2, 2), 1, 1, pids)
        direct = measured(direct_url, None, args.seconds, args.connections, args.threads, pids)
        airlock = measured(airlock_url, key, args.seconds, args.connections, args.threads, pids)
        # The references: the same TLS and the same engine through proxies that do nothing else,
        # one at a time. airlockd idles meanwhile, so each has the cores the engine does not use.
        references = {}
        for offset, name in enumerate(wanted, start=1):
            proxy, proxy_pids = REFERENCES[name][1](work, port + offset, sim_port)
            proxy_url = f"https://127.0.0.1:{port + offset}/v1/chat/completions"
            wrk(proxy_url, None, 2, args.connections, args.threads)
            reference_pids = {"engine": sim.pid, "proxy": proxy_pids}
            references[name] = {"idle": measured(proxy_url, None, max(args.seconds // 2, 2), 1, 1, reference_pids),
                                "loaded": measured(proxy_url, None, args.seconds, args.connections, args.threads, reference_pids)}
            stop(proxy)
        # Streamed: one SSE event per token, so CPU per token is what a long answer costs.
        streams = {}
        if args.stream_tokens:
            body = streamed_chat(args.stream_tokens)
            for name, url, bearer in (("direct", direct_url, None), ("airlock", airlock_url, key)):
                streams[name] = measured(url, bearer, max(args.seconds // 2, 2), 4, 1, pids, body)
        # Paced: tokens arrive as a GPU engine sends them, so each one wakes the relay; this is
        # what a stream costs airlockd in production, where the engine is not on these cores.
        paced_runs = {}
        if args.paced_rate:
            paced, paced_port = engines["paced"]
            body = streamed_chat(100, "paced")
            paced_pids = {"engine": paced.pid, "proxy": daemon.pid}
            paced_runs["direct"] = paced_streams("127.0.0.1", paced_port, None, args.paced_streams, 4, body, paced_pids)
            paced_runs["airlock"] = paced_streams("127.0.0.1", port, key, args.paced_streams, 4, body, paced_pids,
                                                  cafile=f"{work}/data/tls/ca.crt")
        with open(f"/proc/{daemon.pid}/status") as f:
            rss_mb = int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024
    finally:
        if proxy and proxy.poll() is None:
            stop(proxy)
        daemon.terminate()
        daemon.wait(timeout=60)
        for engine, _ in engines.values():
            engine.terminate()
            engine.wait(timeout=10)
    rows = run(f"{BIN}/airlock", "ledger", "verify", env=env).strip()

    ratio = airlock["rps"] / direct["rps"]
    over50 = airlock["p50"] - direct["p50"]
    over99 = airlock["p99"] - direct["p99"]
    cpu = os.cpu_count()
    print(f"gateway benchmark: wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, non-streamed chat, "
          f"max_tokens 4, {cpu} CPUs, engine = airlock-sim (instant tokens)")
    print(f"{'path':<58}{'req/s':>8}{'p50 µs':>9}{'p99 µs':>9}{'non-2xx':>9}{'engine CPU µs/req':>19}{'proxy CPU µs/req':>21}")
    table = ((f"direct to engine (HTTP), 1 connection", idle_direct), (f"through airlockd (HTTPS), 1 connection", idle_airlock),
            (f"direct to engine (HTTP), {args.connections} connections", direct),
            (f"through airlockd (HTTPS), {args.connections} connections", airlock))
    for name, reference in references.items():
        label = REFERENCES[name][0]
        table += ((f"reference: {label} (HTTPS), 1 connection", reference["idle"]),
                  (f"reference: {label} (HTTPS), {args.connections} conn", reference["loaded"]))
    for label, r in table:
        print(f"{label:<58}{r['rps']:>8.0f}{r['p50']:>9.0f}{r['p99']:>9.0f}{r['non2xx']:>9}"
              f"{r['cpu_us']['engine']:>19.0f}{r['cpu_us']['proxy']:>21.0f}")
    if streams:
        for name, label in (("direct", "direct to engine (HTTP)"), ("airlock", "through airlockd (HTTPS)")):
            r = streams[name]
            per_token = {who: us / args.stream_tokens for who, us in r["cpu_us"].items()}
            row = f"{label}, streamed {args.stream_tokens} tokens, 4 conn"
            print(f"{row:<58}{r['rps']:>8.0f}{r['p50']:>9.0f}{r['p99']:>9.0f}"
                  f"{r['non2xx']:>9}{per_token['engine']:>15.1f}/tok{per_token['proxy']:>17.1f}/tok")
    for name, label in (("direct", "direct to engine (HTTP)"), ("airlock", "through airlockd (HTTPS)")):
        if name not in paced_runs:
            continue
        r = paced_runs[name]
        row = f"{label}, paced {args.paced_rate} tok/s, {args.paced_streams} conn"
        print(f"{row:<58}{r['tokens'] / r['seconds']:>8.0f}{'tok/s':>9}{'':>9}{r['failed']:>9}"
              f"{r['cpu_us']['engine']:>15.1f}/tok{r['cpu_us']['proxy']:>17.1f}/tok")
    print(f"unloaded: airlockd adds p50 {idle_airlock['p50'] - idle_direct['p50']:.0f} µs, "
          f"p99 {idle_airlock['p99'] - idle_direct['p99']:.0f} µs")
    print(f"at {args.connections} connections: throughput ratio {ratio:.2f} (target >= 0.6); overhead p50 {over50:.0f} µs "
          f"(target <= 50), p99 {over99:.0f} µs (target <= 1000); airlockd peak RSS {rss_mb:.0f} MB")
    for name, reference in references.items():
        loaded = reference["loaded"]
        print(f"reference, {REFERENCES[name][0]} as a bare TLS proxy to the same engine: ratio {loaded['rps'] / direct['rps']:.2f}, "
              f"overhead p50 {loaded['p50'] - direct['p50']:.0f} µs, p99 {loaded['p99'] - direct['p99']:.0f} µs, "
              f"unloaded p50 +{reference['idle']['p50'] - idle_direct['p50']:.0f} µs, "
              f"{loaded['cpu_us']['proxy']:.0f} µs of CPU per request")
    print(f"ledger after the run: {rows.splitlines()[-1] if rows else '?'}")
    for name, result in (("direct", direct), ("airlock", airlock)):
        if result["socket_errors"]:
            print(f"{name}: {result['socket_errors']}")
    print(f"RESULT gateway direct_rps={direct['rps']:.0f} airlock_rps={airlock['rps']:.0f} ratio={ratio:.2f} "
          f"overhead_p50_us={over50:.0f} overhead_p99_us={over99:.0f} rss_mb={rss_mb:.0f} "
          f"unloaded_overhead_p50_us={idle_airlock['p50'] - idle_direct['p50']:.0f} "
          f"airlockd_cpu_us_per_req={airlock['cpu_us']['proxy']:.0f} engine_cpu_us_per_req={direct['cpu_us']['engine']:.0f}"
          + (f" stream_ratio={streams['airlock']['rps'] / streams['direct']['rps']:.2f}"
             f" airlockd_cpu_us_per_streamed_token={streams['airlock']['cpu_us']['proxy'] / args.stream_tokens:.1f}" if streams else "")
          + (f" paced_airlockd_cpu_us_per_token={paced_runs['airlock']['cpu_us']['proxy']:.1f}"
             f" paced_failed={paced_runs['airlock']['failed']}" if paced_runs else "")
          + "".join(f" {name}_ratio={r['loaded']['rps'] / direct['rps']:.2f}"
                    f" {name}_overhead_p50_us={r['loaded']['p50'] - direct['p50']:.0f}"
                    f" {name}_cpu_us_per_req={r['loaded']['cpu_us']['proxy']:.0f}" for name, r in references.items()))


if __name__ == "__main__":
    main()
