"""The S3 server of tests/s3.rs: moto's S3 backend served on a loopback port, with every GET
of an object logged (key, Range header, bytes sent) to a file, so a test can tell how much of
an object a reader fetched without trusting the reader's own counters.

Usage: server.py PORT LOGFILE
"""
import sys
import threading

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

port, log_path = int(sys.argv[1]), sys.argv[2]
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def counting(environ, start_response):
    body = app(environ, start_response)
    path = environ.get("PATH_INFO", "")
    # Path-style object GETs only: /bucket/key (listings have no key or carry a query).
    if environ["REQUEST_METHOD"] != "GET" or path.count("/") < 2 or environ.get("QUERY_STRING"):
        return body
    chunks = list(body)
    sent = sum(len(c) for c in chunks)
    with lock, open(log_path, "a") as log:
        log.write("%s\t%s\t%d\n" % (path, environ.get("HTTP_RANGE", "-"), sent))
    return chunks


make_server("127.0.0.1", port, counting, threaded=True).serve_forever()
