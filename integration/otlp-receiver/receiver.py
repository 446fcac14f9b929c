"""A real OTLP/gRPC logs receiver for the end-to-end tests: the collector's `LogsService/Export` (OTLP
spec, `opentelemetry/proto/collector/logs/v1/logs_service.proto`) on the official `opentelemetry-proto`
stubs and `grpcio` (versions pinned in requirements.txt, installed into the workspace `.venv` by
`just setup`).

Usage: python receiver.py OUT_FILE [PORT] (0 or none: a free port on 127.0.0.1); prints
"listening on http://127.0.0.1:PORT" once it accepts calls. Every LogRecord received is appended to
OUT_FILE as one JSON line (written and flushed before the Export call is answered):

    {"resource": <Resource>, "scope": <InstrumentationScope>, "log_record": <LogRecord>}

each value in the OTLP/JSON encoding (protobuf JSON mapping, lowerCamelCase field names, 64-bit integers
as strings, `attributes` as [{"key", "value": {"stringValue" | "intValue" | ...}}]).
"""

import json
import sys
import threading
from concurrent import futures

import grpc
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc


class LogsService(logs_service_pb2_grpc.LogsServiceServicer):
    """Appends each LogRecord of each export request to `out` as a JSON line."""

    def __init__(self, out):
        self._out = out
        self._lock = threading.Lock()

    def Export(self, request, context):  # noqa: N802 (the gRPC method name)
        lines = []
        for resource_logs in request.resource_logs:
            resource = MessageToDict(resource_logs.resource)
            for scope_logs in resource_logs.scope_logs:
                scope = MessageToDict(scope_logs.scope)
                for record in scope_logs.log_records:
                    line = {"resource": resource, "scope": scope, "log_record": MessageToDict(record)}
                    lines.append(json.dumps(line, separators=(",", ":")))
        with self._lock:
            for line in lines:
                self._out.write(line + "\n")
            self._out.flush()
        return logs_service_pb2.ExportLogsServiceResponse()


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: receiver.py OUT_FILE [PORT]")
    port = int(sys.argv[2]) if len(sys.argv) == 3 else 0
    out = open(sys.argv[1], "a", encoding="utf-8")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(LogsService(out), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    if bound == 0:
        sys.exit(f"cannot listen on 127.0.0.1:{port}")
    server.start()
    print(f"listening on http://127.0.0.1:{bound}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
