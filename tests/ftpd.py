"""A plain FTP server for the FTP tests (pyftpdlib), on 127.0.0.1 only.

Usage: ftpd.py ROOT PORT_FILE USER PASSWORD [CERT_PEM]
Serves ROOT to USER/PASSWORD with every permission, binds an ephemeral port on 127.0.0.1 and
writes it to PORT_FILE once it listens. With CERT_PEM (certificate and key in one PEM file) it
is an explicit FTPS server that requires TLS on the control and data connections. With
FTPD_STALL_DOWNLOADS=1 in the environment, a download sends its first chunk and then stalls
(a throttle of 1 byte/s), as a server that stops answering mid-transfer. Runs until killed.
"""
import logging
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, ThrottledDTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    root, port_file, user, password = sys.argv[1:5]
    logging.basicConfig(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_user(user, password, root, perm="elradfmwMT")
    if len(sys.argv) > 5:
        handler = TLS_FTPHandler
        handler.certfile = sys.argv[5]
        handler.tls_control_required = True
        handler.tls_data_required = True
    else:
        handler = FTPHandler
    handler.authorizer = authorizer
    if os.environ.get("FTPD_STALL_DOWNLOADS") == "1":
        dtp = ThrottledDTPHandler
        dtp.write_limit = 1
        handler.dtp_handler = dtp
    server = FTPServer(("127.0.0.1", 0), handler)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.address[1]))
    os.rename(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
