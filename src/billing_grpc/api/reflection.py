"""gRPC server reflection under both names: `grpc.reflection.v1` and the older `v1alpha`.

grpcio-reflection (1.85) serves only `grpc.reflection.v1alpha.ServerReflection`. Current grpcurl
and `buf curl` ask for `grpc.reflection.v1` first; a server without it depends on their fallback,
which newer tools may drop. v1 is v1alpha with the package renamed (the same messages, field for
field), so one servicer answers both: the v1 service is registered with v1alpha's message
classes, and a renamed copy of v1alpha's file descriptor lets clients describe v1 itself.
"""

from __future__ import annotations

from collections.abc import Iterable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc import aio
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1ALPHA_SERVICE_NAME: str = reflection.SERVICE_NAME
V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
_V1_FILE = "grpc/reflection/v1/reflection.proto"


def enable_reflection(service_names: Iterable[str], server: aio.Server) -> None:
    """Serve reflection for `service_names` (and both reflection services) under v1 and v1alpha."""
    _register_v1_descriptor()
    servicer = reflection.aio.ReflectionServicer((*service_names, V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.method_handlers_generic_handler(
        V1_SERVICE_NAME,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((v1,))


def _register_v1_descriptor() -> None:
    """Add `grpc/reflection/v1/reflection.proto` to the default pool, once, unless something else did."""
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(_V1_FILE)
        return
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    old, new = f".{file.package}.", ".grpc.reflection.v1."
    file.name, file.package = _V1_FILE, new.strip(".")
    file.ClearField("options")  # v1alpha's Java and C# package names
    for message in file.message_type:  # the file has no nested messages, enums or imports
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name.removeprefix(old)
    for service in file.service:
        for method in service.method:
            method.input_type = new + method.input_type.removeprefix(old)
            method.output_type = new + method.output_type.removeprefix(old)
    pool.AddSerializedFile(file.SerializeToString())
