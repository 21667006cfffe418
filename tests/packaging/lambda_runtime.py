"""Stands in for the Lambda runtime: run as a script by a fresh interpreter (``python -I -S``) whose import
path is only ``argv[1]`` (the unpacked deployment.zip), ``argv[2]`` (its layer's site-packages, as Lambda
puts it under /opt) and ``argv[3]`` (boto3 and its dependencies, as the runtime provides them). It imports
nothing of the repository.

stdin: a JSON list of invocations; stdout: one JSON list of what each handler returned.
    {"api": {"method": ..., "path": ..., "headers": {...}, "body": "..."}}   API Gateway REST proxy event, after
        the route's authorizer as API Gateway calls it: a Deny answers 403 in the gateway's error shape
    {"authorize": {"method": ..., "path": ..., "key": ...}}                 TOKEN authorizer event (client_key)
    {"s3": {"bucket": ..., "key": ..., "size": n, "etag": ...}}             S3 ObjectCreated notification
    {"sqs": {"function": ..., "bodies": [...]}}                              SQS event source batch
    {"schedule": "<function name>", "gateway": true}                         EventBridge scheduled event; with
        gateway, API_URL points at a local stand-in for API Gateway in front of the packaged API handler
"""

import base64
import fnmatch
import hashlib
import http.server
import json
import os
import sys
import threading
import uuid
from datetime import UTC, datetime

sys.path[:0] = sys.argv[1:4]
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
ACCOUNT = "123456789012"


class Context:
    """The attributes Lambda's context object has that handlers and Powertools read."""

    def __init__(self, function_name: str):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def resource_for(routes, path: str) -> tuple[str, dict]:
    """The API resource (route pattern) API Gateway would pick for `path`, and its path parameters."""
    segments = path.strip("/").split("/")
    best = None
    for pattern in routes:
        parts = pattern.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        params, literal = {}, 0
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{"):
                params[part.strip("{}")] = segment
            elif part == segment:
                literal += 1
            else:
                break
        else:
            if best is None or literal > best[0]:
                best = (literal, pattern, params)
    if best is None:
        raise LookupError(f"no route for {path}")
    return best[1], best[2]


def api_event(app, method: str, path: str, headers: dict, body: str | None, query: dict | None = None) -> dict:
    path, _, query_string = path.partition("?")
    if query_string and query is None:
        query = dict(pair.split("=", 1) for pair in query_string.split("&"))
    resource, params = resource_for(app.routes, path)
    binary = body is not None and not isinstance(body, str)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "requestId": str(uuid.uuid4()),
            "accountId": ACCOUNT,
            "identity": {"sourceIp": "127.0.0.1", "apiKey": headers.get("x-api-key")},
        },
        "body": base64.b64encode(body).decode() if binary else body,
        "isBase64Encoded": binary,
    }


def method_arn(method: str, path: str) -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:restapi/api/{method}{path.partition('?')[0]}"


def authorizer_event(method: str, path: str, key: str) -> dict:
    return {"type": "TOKEN", "authorizationToken": key, "methodArn": method_arn(method, path)}


def allowed(answer: dict, arn: str) -> bool:
    """Whether the authorizer's policy allows `arn` (no Deny matches, an Allow does; `*` spans `/`)."""
    matched = {"Allow": False, "Deny": False}
    for statement in answer["policyDocument"]["Statement"]:
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(fnmatch.fnmatchcase(arn, pattern) for pattern in resources):
            matched[statement["Effect"]] = True
    return matched["Allow"] and not matched["Deny"]


def through_gateway(app_module, method: str, path: str, headers: dict, body) -> dict:
    """What API Gateway does for a request: the route's authorizer first (if any), then the proxy event
    with the authorizer's context, or a 403 in the shape of the stack's gateway responses."""
    event = api_event(app_module.app, method, path, headers, body)
    route = app_module.app.routes[event["resource"]][method]
    if route.authorizer is not None:
        key = headers.get("x-api-key") or ""
        answer = app_module.client_key(authorizer_event(method, path, key), Context("ClientKey"))
        if not allowed(answer, method_arn(method, path)):
            refusal = {"error": "forbidden", "detail": "User is not authorized to access this resource"}
            return {"statusCode": 403, "headers": {"content-type": "application/json"}, "body": json.dumps(refusal)}
        event["requestContext"]["authorizer"] = {**answer.get("context", {}), "principalId": answer["principalId"]}
    return app_module.app(event, Context("APIHandler"))


def sqs_event(bodies: list[str]) -> dict:
    records = [
        {
            "messageId": str(uuid.uuid4()),
            "receiptHandle": str(uuid.uuid4()),
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(datetime.now(UTC).timestamp()))},
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:hr-migration-jobs",
            "awsRegion": REGION,
        }
        for body in bodies
    ]
    return {"Records": records}


def s3_event(bucket: str, key: str, size: int, etag: str) -> dict:
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": datetime.now(UTC).isoformat(),
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": key.replace(" ", "+"), "size": size, "eTag": etag, "sequencer": "0A1B2C3D4E5F678901"},
        },
    }
    return {"Records": [record]}


def scheduled_event(rule: str) -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"],
        "detail": {},
    }


def serve_api(app_module) -> str:
    """A local stand-in for API Gateway: each HTTP request becomes a proxy event for the API handler."""

    class Gateway(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = through_gateway(app_module, "GET", self.path.removeprefix("/api"), headers, None)
            body = response.get("body") or ""
            payload = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
            self.send_response(response["statusCode"])
            for name, value in (response.get("headers") or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/api/"


def main() -> None:
    import app as app_module  # what Lambda imports for every handler: "app.<function>"

    if "chalicelib" not in sys.modules or not sys.modules["chalicelib"].__file__.startswith(sys.argv[1]):
        raise SystemExit("chalicelib was not imported from the package")
    results = []
    for call in json.load(sys.stdin):
        if "api" in call:
            request = call["api"]
            args = (request["method"], request["path"], request["headers"], request["body"])
            results.append(through_gateway(app_module, *args))
        elif "authorize" in call:
            request = call["authorize"]
            event = authorizer_event(request["method"], request["path"], request["key"])
            answer = app_module.client_key(event, Context("ClientKey"))
            results.append({"answer": answer, "allowed": allowed(answer, event["methodArn"])})
        elif "sqs" in call:
            handler = getattr(app_module, call["sqs"]["function"])
            results.append(handler(sqs_event(call["sqs"]["bodies"]), Context(call["sqs"]["function"])))
        elif "s3" in call:
            obj = call["s3"]
            event = s3_event(obj["bucket"], obj["key"], obj["size"], obj["etag"])
            results.append(app_module.s3_loader(event, Context("s3_loader")))
        else:
            if call.get("gateway"):
                os.environ["API_URL"] = serve_api(app_module)
            handler = getattr(app_module, call["schedule"])
            results.append(handler(scheduled_event(call["schedule"]), Context(call["schedule"])))
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
