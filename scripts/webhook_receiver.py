#!/usr/bin/env python3
"""Demo webhook receiver for scripts/run.sh: appends every POSTed body (one
alert event JSON per request) as a line to FILE and answers 204.

usage: webhook_receiver.py HOST PORT FILE
Demo only: no auth, no TLS, single-threaded.
"""
import http.server
import sys


def main() -> None:
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode("utf-8", "replace").replace("\n", " ")
            with open(path, "a", encoding="utf-8") as out:
                out.write(body + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, fmt: str, *args: object) -> None:
            sys.stderr.write("webhook: " + (fmt % args) + "\n")

    http.server.HTTPServer((host, port), Handler).serve_forever()


if __name__ == "__main__":
    main()
