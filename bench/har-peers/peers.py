#!/usr/bin/env python3
"""Helpers for bench/har-peers/run.sh (standard library only).

  peers.py recorded-host HAR
      print the host:port the HAR was recorded against
  peers.py variant KIND SRC DST RECORDED_HOST NEW_HOST
      write a copy of a generated script retargeted to NEW_HOST; KIND is
        as-generated   only the host:port is rewritten
        no-content-length   also drop the recorded Content-Length headers
                       (har2locust keeps them, but locust re-serialises the
                       JSON body with spaces, so the lengths no longer match)
        hand-token     no-content-length, plus a unique email per iteration
                       and the bearer token taken from the register response
                       (a hand edit: what correlation would have done for
                       the token; the cart/item/order ids stay verbatim)
  peers.py hardcoded HAR FILE...
      list the recording's server-made values found verbatim in each FILE
  peers.py summarize OUT_DIR
      read the per-run files in OUT_DIR, write OUT_DIR/results.md and print it
"""

import csv
import json
import re
import sys
import uuid  # noqa: F401  (used in generated code of the hand-token variant)
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit


def load_har(path):
    return json.loads(Path(path).read_text())["log"]["entries"]


def recorded_host(har):
    return urlsplit(load_har(har)[0]["request"]["url"]).netloc


def _json(entry, side):
    if side == "request":
        text = (entry["request"].get("postData") or {}).get("text", "")
    else:
        text = entry["response"]["content"].get("text", "")
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def dynamic_values(har):
    """The values the recorded session got from the server (plus the email it
    chose, which the server makes unique), keyed by a human label."""
    out = []
    for e in load_har(har):
        req = e["request"]
        path = urlsplit(req["url"]).path
        body = _json(e, "response")
        if req["method"] == "POST" and path == "/auth/register":
            sent = _json(e, "request") or {}
            out.append(("recorded email (client-chosen, unique per user)", sent.get("email")))
            out.append(("recorded JWT (POST /auth/register $.token)", body["token"]))
            out.append(("recorded user id (POST /auth/register $.user.id)", body["user"]["id"]))
        elif req["method"] == "POST" and path == "/cart/items":
            out.append(("cart item id (POST /cart/items $.item.id)", body["item"]["id"]))
        elif req["method"] == "GET" and path == "/cart":
            out.append(("cart id (GET /cart $.id)", body["id"]))
        elif req["method"] == "POST" and path == "/checkout":
            out.append(("order id (POST /checkout $.order_id)", body["order_id"]))
    seen, uniq = set(), []
    for label, v in out:
        if v and (label, v) not in seen:
            seen.add((label, v))
            uniq.append((label, v))
    return uniq


def hardcoded(har, files):
    values = dynamic_values(har)
    lines = []
    for f in files:
        text = Path(f).read_text().splitlines()
        lines.append(f"### {Path(f).name} ({len(text)} lines)")
        lines.append("")
        lines.append("| value | occurrences | lines |")
        lines.append("| --- | ---: | --- |")
        for label, v in values:
            # ids like item-1 must not match item-10
            pat = re.compile(re.escape(v) + r"(?![0-9A-Za-z_-])")
            hits = [i for i, l in enumerate(text, 1) for _ in pat.finditer(l)]
            shown = _ranges(sorted(set(hits)))
            short = v if len(v) < 30 else v[:20] + "…" + v[-6:]
            lines.append(f"| {label}: `{short}` | {len(hits)} | {shown or '—'} |")
        lines.append("")
    return "\n".join(lines)


def _ranges(nums):
    if not nums:
        return ""
    if len(nums) > 20:
        return ", ".join(str(n) for n in nums[:6]) + f", … ({len(nums)} lines) …, " + ", ".join(
            str(n) for n in nums[-3:]
        )
    return ", ".join(str(n) for n in nums)


def variant(kind, src, dst, rec_host, new_host):
    s = Path(src).read_text()
    s = s.replace(rec_host, new_host)
    if kind in ("no-content-length", "hand-token"):
        s = re.sub(r'^\s*"Content-Length": "\d+",\n', "", s, flags=re.M)
    if kind == "hand-token":
        token = re.search(r'"Bearer (eyJ[^"]+)"', s).group(1)
        s = "import uuid\n" + s
        s = re.sub(
            r'"email": "[^"]+@example\.com"',
            '"email": f"peer-{uuid.uuid4().hex[:12]}@example.com"',
            s,
            count=1,
        )
        # the block right after the register call: keep the token it returns
        reg = s.index('"/auth/register"')
        p = s.index(") as resp:\n            pass", reg)
        s = (
            s[:p]
            + ') as resp:\n            self.token = (resp.js or {}).get("token", "")'
            + s[p + len(") as resp:\n            pass") :]
        )
        s = s.replace(f'"Bearer {token}"', '"Bearer " + self.token')
    elif kind not in ("as-generated", "no-content-length"):
        sys.exit(f"unknown variant {kind}")
    Path(dst).write_text(s)


# ---------------------------------------------------------------- summarize

METRIC = re.compile(r'^http_requests_total\{method="(\w+)",path="([^"]*)",status="(\d+)"\} (\d+)$')
ADMIN = {"/admin/stats", "/metrics"}


def server_counts(path):
    rows = []
    for line in Path(path).read_text().splitlines():
        m = METRIC.match(line)
        if m and m.group(2) not in ADMIN:
            rows.append((m.group(1), m.group(2), int(m.group(3)), int(m.group(4))))
    return rows


def locust_client(path):
    p = Path(path)
    if not p.exists():
        return None
    d = json.loads(p.read_text())
    return d["requests"], d["failures"], Counter(d["errors"])


def k6_client(path):
    p = Path(path)
    if not p.exists():
        return None
    total = failed = 0
    errors = Counter()
    for line in p.open():
        d = json.loads(line)
        if d.get("type") != "Point" or d.get("metric") != "http_reqs":
            continue
        tags = d["data"]["tags"]
        total += 1
        if tags.get("expected_response") == "false":
            failed += 1
            path = urlsplit(tags["name"]).path
            errors[f'{tags["method"]} {path}: status {tags["status"]}'] += 1
    return total, failed, errors


def summarize(out):
    out = Path(out)
    runs = json.loads((out / "runs.json").read_text())
    md = []
    md.append("| run | iterations | requests seen by shop | of them ≥ 400 | client-side requests / failures | users | orders created |")
    md.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    details = []
    for r in runs:
        name = r["name"]
        rows = server_counts(out / f"{name}.metrics.txt")
        stats = json.loads((out / f"{name}.stats.json").read_text())
        seen = sum(n for *_, n in rows)
        bad = sum(n for _, _, st, n in rows if st >= 400)
        client = (
            locust_client(out / f"{name}.client.json") if r["tool"] == "locust" else k6_client(out / f"{name}.k6.json")
        )
        ctext = f"{client[0]} / {client[1]}" if client else "not run"
        md.append(
            f"| {name} | {r['iterations']} | {seen} | {bad} | {ctext} | {stats['users']} | {stats['orders']} |"
        )
        details.append(f"#### {name}\n\nServer side (`GET /metrics`, admin calls excluded):\n")
        by_route = defaultdict(list)
        for m, p, st, n in rows:
            by_route[f"{m} {p}"].append(f"{st}×{n}")
        details.append("| route | status × count |\n| --- | --- |")
        for k in sorted(by_route):
            details.append(f"| `{k}` | {', '.join(sorted(by_route[k]))} |")
        if client and client[2]:
            details.append("\nClient-side failures as the tool reported them:\n")
            details.append("| request | count |\n| --- | ---: |")
            for k, n in sorted(client[2].items()):
                details.append(f"| `{k}` | {n} |")
        details.append(f"\n`/admin/stats` after the run: `{json.dumps(stats)}`\n")
    text = "\n".join(md) + "\n\n" + "\n".join(details) + "\n"
    (out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "recorded-host":
        print(recorded_host(args[0]))
    elif cmd == "variant":
        variant(*args)
    elif cmd == "hardcoded":
        print(hardcoded(args[0], args[1:]))
    elif cmd == "summarize":
        summarize(args[0])
    else:
        sys.exit(__doc__)
