"""A webhook receiver for the end-to-end tests: verifies every request with the Standard Webhooks
reference library (`standardwebhooks` from PyPI) and appends one JSON line per request to a log
the Rust test reads.

Usage: receiver.py SECRET LOG [--fail-first N] [--hold-first SECONDS]
  --fail-first N       answer 500 to the first N valid requests, then 204
  --hold-first SECONDS wait this long before answering the first valid request

Prints the port it listens on (127.0.0.1, a free one) as its first line.
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

parser = argparse.ArgumentParser()
parser.add_argument("secret")
parser.add_argument("log")
parser.add_argument("--fail-first", type=int, default=0)
parser.add_argument("--hold-first", type=float, default=0.0)
args = parser.parse_args()

webhook = Webhook(args.secret)
lock = threading.Lock()
seen = {"valid": 0}


def record(entry):
    with lock:
        with open(args.log, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        started = time.time()
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            payload = webhook.verify(body, headers)
            verified = True
        except WebhookVerificationError as e:
            payload, verified = None, False
            record({"verified": False, "error": str(e), "id": headers.get("webhook-id")})
        if not verified:
            self.answer(400)
            return
        with lock:
            seen["valid"] += 1
            n = seen["valid"]
        status = 500 if n <= args.fail_first else 204
        entry = {
            "verified": True,
            "n": n,
            "id": headers.get("webhook-id"),
            "type": payload.get("type"),
            "timestamp": payload.get("timestamp"),
            "data": payload.get("data"),
            "status": status,
            "started": started,
        }
        if n == 1 and args.hold_first > 0:
            record(dict(entry, held=True))
            time.sleep(args.hold_first)
        try:
            self.answer(status)
        except OSError:
            # The server went away while we held its request.
            entry["status"] = "gone"
        entry["finished"] = time.time()
        record(entry)

    def answer(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
