"""moto_server, with DynamoDB requests handled one at a time.

moto's server is threaded and its DynamoDB backend checks a ConditionExpression and then
writes without a lock, so two concurrent conditional puts of the same item can both succeed
(seen once in several hundred runs of the store contract's 20-writer races). Real DynamoDB applies
each conditional write atomically, and the service's correctness rests on that, so the test
emulator serializes DynamoDB requests. Other services (SQS long polls, EventBridge) stay
concurrent.

Usage: python moto_server_serialized.py [-H HOST] [-p PORT]   (same flags as moto_server)
"""

import argparse
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def serialize_dynamodb(app):
    lock = threading.Lock()

    def serialized(environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            response = app(environ, start_response)
            try:
                return list(response)
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()

    return serialized


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()

    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto_server: errors come back with their traceback
    run_simple(
        args.host,
        args.port,
        serialize_dynamodb(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
