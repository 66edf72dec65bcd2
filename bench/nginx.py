"""Batch pages through the province bundle's nginx micro-cache, in front of N web workers, at 1,000
concurrent clients (issue 17), and how long the cache hides a recall.

The nginx site is the one ``ocop server provision`` renders (firmware_config/templates/server/
nginx-ocop.conf.j2: TLS, rate limits, micro-cache), inside Debian's default ``nginx.conf``
(``worker_processes auto``, ``worker_connections 768``), run by Debian's nginx on loopback in
the bench's folder as tests/security/test_nginx_limits.py does. Behind it, N ``ocop server web
--port`` workers (the bundle's default N and threads) with ``proxy_hops = 1`` as the bundle's
server.toml has it, serving a batch that synced through the real ingest code (bench/web.py).

Every client has a loopback address of its own (127.20.x.y), as phones do, so the per-address
limits (10 requests/s, burst 40, 20 connections) judge each client alone. Same-run baselines:
nginx serving a static file of the page's size over the same TLS with the same limits (nginx's
own ceiling here), and the same workers asked directly (no nginx, plain HTTP). Then a recall is
made mid-run (``recall()`` as ``ocop server recall`` does) and the clients watch for the banner.
The client is bench/httpload.py's ``run_crowd`` in a few processes.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from bench.httpload import CrowdResult, Target, run_crowd
from bench.kit import Stack, cpu_seconds, open_stack
from bench.report import MAX, BenchResult, Figure
from bench.web import synced_batch
from firmware_config.server import ServerSpec, render_bundle
from ocop_cli.broker import free_port, wait_for_port
from sync_server.trace.recalls import recall
from tests.integration.harness import make_server
from tests.tls_certs import make_tls_files

CLIENTS = 1000
DOMAIN = "trace.hatinh.gov.vn"
BANNER = 'id="recall"'  # the recall banner of the batch page (templates/_recall_banner.html)
SOURCE_NET = "127.20"
# Each client's next request starts 0.1 s after its previous one at the earliest: the site's
# per-address rate (10/s, nginx-ocop.conf.j2), so 1,000 clients offer up to 10,000 requests/s.
PACE_S = 0.1
DEFAULTS = ServerSpec(domain=DOMAIN)  # the bundle's defaults: web workers, threads, cache TTL


@dataclass(frozen=True)
class Sizes:
    clients: int
    processes: int  # client processes
    seconds: float  # per measured run, after the warm-up
    warm_up_s: float  # connections (TLS handshakes) are made here
    recall_s: float  # the recall run: long enough for the cache entry to expire after it
    cache_s: int  # the micro-cache TTL rendered into the site
    limit: int  # requests per run at most


FULL = Sizes(CLIENTS, 2, 8.0, 2.0, 12.0, DEFAULTS.micro_cache_s, 400_000)
QUICK = Sizes(20, 1, 0.5, 0.5, 3.0, 1, 5_000)


def _consecutive_ports(count: int) -> int:
    """A base port with ``count`` free ports from it (the bundle numbers workers base, base+1…)."""
    for _ in range(50):
        base = free_port()
        if base + count > 65535:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("nginx bench: no run of free ports for the web workers")


def _nginx_conf(root: Path, site: Path, static_port: int, spec: ServerSpec) -> Path:
    """Debian 12's /etc/nginx/nginx.conf (its defaults kept), in ``root``, including the site,
    plus the baseline: a static file over the same TLS and the same per-address limits."""
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi", "static"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(
        # As this user: root's nginx would run its workers as nobody, who cannot read the folder.
        f"user {getpass.getuser()};\nworker_processes auto;\npid {root}/nginx.pid;\n"
        f"error_log {root}/error.log;\n"
        "daemon off;\nevents { worker_connections 768; }\n"
        "http {\n    sendfile on;\n    tcp_nopush on;\n    types_hash_max_size 2048;\n"
        "    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
        "    ssl_prefer_server_ciphers on;\n    access_log off;\n    gzip on;\n"
        f"    client_body_temp_path {root}/body;\n    proxy_temp_path {root}/proxy;\n"
        f"    fastcgi_temp_path {root}/fastcgi;\n    uwsgi_temp_path {root}/uwsgi;\n"
        f"    scgi_temp_path {root}/scgi;\n"
        f"    include {site};\n"
        "    server {\n"
        f"        listen 127.0.0.1:{static_port} ssl http2;\n"
        f"        ssl_certificate {spec.cert_path};\n        ssl_certificate_key {spec.key_path};\n"
        "        ssl_protocols TLSv1.2 TLSv1.3;\n"
        "        limit_conn ocop_conn 20;\n"
        "        location / {\n"
        "            limit_req zone=ocop_pages burst=40 nodelay;\n"
        f"            root {root / 'static'};\n"
        "        }\n    }\n}\n",
        encoding="utf-8",
    )
    return conf


def _start_nginx(stack: Stack, conf: Path, ports: list[int]) -> list[int]:
    """nginx's worker processes' ids, once it listens on ``ports``."""
    program = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(program):
        raise RuntimeError("nginx bench: Debian's nginx is not installed (apt install nginx)")
    log = (stack.dir / "nginx.log").open("ab")
    proc = subprocess.Popen(
        [program, "-p", str(conf.parent), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
    )
    stack.procs.running.append(proc)
    for port in ports:
        if not wait_for_port(port, 10):
            raise RuntimeError(f"nginx did not start; see {conf.parent / 'error.log'}")
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text(encoding="ascii")
    return [int(pid) for pid in children.split()]


@dataclass
class Measured:
    load: CrowdResult
    cpu_s: dict[str, float]  # CPU seconds used during the run: "nginx", "web"

    def cpu_us_per_request(self, who: str) -> float:
        return 1e6 * self.cpu_s[who] / self.load.requests if self.load.requests else 0.0


def _get_direct(port: int, path: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while piece := s.recv(65536):
            data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise AssertionError(f"nginx bench: {path} answered {head[:60]!r}")
    return body


def _check(name: str, result: CrowdResult) -> None:
    """Pages, and at most nginx's 429 (a client past its address's rate: counted, reported)."""
    if not result.requests or not set(result.statuses) <= {200, 429} or 200 not in result.statuses:
        raise AssertionError(f"nginx bench: {name} run went wrong: {result.summary()}")


def _hit_ratio(result: CrowdResult) -> float:
    total = sum(result.header_counts.values())
    return result.header_counts.get("HIT", 0) / total if total else 0.0


def run(workdir: Path, *, quick: bool) -> BenchResult:
    n = QUICK if quick else FULL
    workers = DEFAULTS.web_workers
    with open_stack(workdir / "nginx") as stack:
        server = make_server(
            stack.dir,
            stack.broker.port,
            http_toml=f"threads = {DEFAULTS.web_threads}\nproxy_hops = 1\n",
        )
        gtin, lot = synced_batch(server, stack.dir)
        tls = make_tls_files(stack.dir / "tls")
        spec = ServerSpec(
            domain=DOMAIN,
            web_workers=workers,
            web_base_port=_consecutive_ports(workers),
            web_threads=DEFAULTS.web_threads,
            data_dir=str(stack.dir / "data"),
            config_dir=str(stack.dir / "etc"),
            tls_cert=str(tls.cert),
            tls_key=str(tls.key),
            tls_ca=str(tls.ca),
            http_port=free_port(),
            https_port=free_port(),
            nginx_bind="127.0.0.1",
            nginx_cache_dir=str(stack.dir / "nginx-cache"),
            nginx_log_dir=str(stack.dir),
            acme_root=str(stack.dir / "acme"),
            micro_cache_s=n.cache_s,
        )
        render_bundle(spec, stack.dir / "bundle")
        web_pids = []
        for port in spec.web_ports:
            args = ["server", "--config", str(server.config_path), "web", "--port", str(port)]
            web_pids.append(stack.procs.start(args, stack.dir / f"web-{port}.log").pid)
        for port in spec.web_ports:
            if not wait_for_port(port, 30):
                raise RuntimeError(f"ocop server web --port {port} did not start")
        batch_path = f"/01/{gtin}/10/{lot}"
        root = stack.dir / "nginx"
        static_port = free_port()
        conf = _nginx_conf(root, stack.dir / "bundle" / "nginx-ocop.conf", static_port, spec)
        page = _get_direct(spec.web_ports[0], batch_path)
        if BANNER.encode() in page:
            raise AssertionError("nginx bench: the banner shows before any recall")
        (root / "static" / "batch.html").write_bytes(page)  # the same bytes as the page
        pids = {"nginx": _start_nginx(stack, conf, [spec.https_port, static_port]), "web": web_pids}

        def cpu() -> dict[str, float]:
            return {who: sum(cpu_seconds(pid) for pid in found) for who, found in pids.items()}

        def crowd(target: Target, seconds: float = n.seconds) -> Measured:
            time.sleep(0.5)  # let the previous run's connections close
            before = cpu()
            load = run_crowd(
                target,
                clients=n.clients,
                seconds=seconds,
                max_requests=n.limit,
                warm_up_s=n.warm_up_s,
                processes=n.processes,
            )
            # The warm-up's CPU (TLS handshakes, the first miss) is counted too: per request
            # this slightly overstates the steady cost.
            return Measured(load, {k: v - before[k] for k, v in cpu().items()})

        phone = Target(
            (spec.https_port,),
            (batch_path,),
            host=DOMAIN,
            ca_file=str(tls.ca),
            source_net=SOURCE_NET,
            interval_s=PACE_S,
        )
        via = replace(phone, count_header="X-Cache")
        direct = crowd(replace(phone, ports=tuple(spec.web_ports), host="127.0.0.1", ca_file=""))
        scans_before = int(server.scalar("SELECT COUNT(*) FROM scans"))
        cached = crowd(via)
        time.sleep(1.0)  # batch-page scans are written in the background (group commit)
        scans_cached = int(server.scalar("SELECT COUNT(*) FROM scans")) - scans_before
        static = crowd(replace(phone, ports=(static_port,), paths=("/batch.html",)))

        # The recall run: made a third of the way in, after the warm-up.
        made: list[float] = []

        def make_recall() -> None:
            with server.engine.begin() as conn:
                recall(conn, lot, "bench: thử thu hồi / recall drill", "bench")
            made.append(time.monotonic())

        delay = 1.0 + 0.3 * n.processes + n.warm_up_s + n.recall_s / 3  # see run_crowd's begin
        timer = threading.Timer(delay, make_recall)
        timer.start()
        watched = crowd(replace(via, watch=BANNER), n.recall_s).load
        timer.join()
        server.engine.dispose()
    runs = {"static": static, "direct": direct, "nginx": cached}
    for name, result in [*((k, v.load) for k, v in runs.items()), ("recall", watched)]:
        _check(name, result)
    if not made or len(watched.first_seen) != watched.clients:
        raise AssertionError(
            f"nginx bench: {len(watched.first_seen)} of {watched.clients} clients saw the recall"
        )
    if min(watched.first_seen) < made[0] - 0.5:  # 0.5 s: the commit's own duration
        raise AssertionError("nginx bench: a client saw the banner before the recall")
    return BenchResult(
        figures=_figures(n, workers, spec.web_threads, runs, watched, made[0]),
        details={
            "clients": n.clients,
            "client_processes": n.processes,
            "pace_s": PACE_S,
            "offered_max_per_s": n.clients / PACE_S,
            "web_workers": workers,
            "web_threads": spec.web_threads,
            "micro_cache_s": n.cache_s,
            "seconds_per_run": n.seconds,
            "batch_path": batch_path,
            "page_bytes": len(page),
            "scans_logged_during_nginx_run": scans_cached,
            **{
                name: {**m.load.summary(), "cpu_s": m.cpu_s, "seconds": m.load.seconds}
                for name, m in runs.items()
            },
            "recall_run": watched.summary(),
        },
    )


def _figures(
    n: Sizes,
    workers: int,
    threads: int,
    runs: dict[str, Measured],
    watched: CrowdResult,
    made_at: float,
) -> list[Figure]:
    static, direct, cached = runs["static"], runs["direct"], runs["nginx"]
    offered = n.clients / PACE_S
    refused = {k: m.load.statuses.get(429, 0) for k, m in runs.items()}
    note = (
        f"{n.clients} clients, each ≤ {1 / PACE_S:g} req/s (≤ {offered:,.0f} offered); "
        f"{workers} web workers × {threads} threads; 429s: {refused}"
    )
    ttl_ms = 1000.0 * n.cache_s
    hit = 100 * _hit_ratio(cached.load)
    static_name = "nginx static file"

    def trio(
        name: str, m: Measured, base: Measured, base_name: str, note: str = ""
    ) -> list[Figure]:
        return [
            Figure(
                "nginx",
                f"{name} requests/s",
                m.load.per_s,
                "req/s",
                base.load.per_s,
                base_name,
                note=note,
            ),
            Figure(
                "nginx",
                f"{name} p50 latency",
                m.load.percentile_ms(0.5),
                "ms",
                base.load.percentile_ms(0.5),
                base_name,
            ),
            Figure(
                "nginx",
                f"{name} p99 latency",
                m.load.percentile_ms(0.99),
                "ms",
                base.load.percentile_ms(0.99),
                base_name,
            ),
        ]

    return [
        *trio("batch page via nginx", cached, static, static_name, note),
        Figure(
            "nginx",
            "batch page via nginx requests/s",
            cached.load.per_s,
            "req/s",
            direct.load.per_s,
            f"{workers} workers direct",
        ),
        *trio(
            f"batch page, {workers} workers direct",
            direct,
            static,
            static_name,
            "no nginx, plain HTTP",
        ),
        Figure(
            "nginx", "micro-cache hit ratio", hit, "%", note=f"X-Cache: {cached.load.header_counts}"
        ),
        Figure(
            "nginx",
            "nginx CPU per cached batch page",
            cached.cpu_us_per_request("nginx"),
            "µs",
            static.cpu_us_per_request("nginx"),
            "per static file",
            note="both nginx workers, TLS keep-alive",
        ),
        Figure(
            "nginx",
            "web workers' CPU per batch page, direct",
            direct.cpu_us_per_request("web"),
            "µs",
            static.cpu_us_per_request("nginx"),
            "nginx per static file",
            note="renders (page cache), logs each view",
        ),
        Figure(
            "nginx",
            "recall → banner hidden by the cache (last old page)",
            1000 * max(0.0, watched.last_without - made_at),
            "ms",
            ttl_ms,
            "micro-cache TTL",
            ttl_ms,
            MAX,
        ),
        Figure(
            "nginx",
            "recall → every client has seen the banner",
            1000 * (max(watched.first_seen) - made_at),
            "ms",
            ttl_ms,
            "micro-cache TTL",
        ),
    ]
