"""A small inference server: answers /predict?x=... with y = w*x + b, and /health."""
import json
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

MODEL = {"w": float(os.environ.get("MODEL_W", "3")), "b": float(os.environ.get("MODEL_B", "1"))}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/health":
            return self.reply(200, {"ok": True})
        if url.path == "/predict":
            try:
                x = float(parse_qs(url.query)["x"][0])
            except (KeyError, ValueError):
                return self.reply(400, {"error": "x: give a number, as /predict?x=2"})
            return self.reply(200, {"x": x, "y": MODEL["w"] * x + MODEL["b"]})
        return self.reply(404, {"error": "no such path"})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8808"))), Handler).serve_forever()
