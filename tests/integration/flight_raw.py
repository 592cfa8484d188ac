"""Flight over raw gRPC (grpcio, no Arrow client): sends FlightData messages byte by byte, so
tests can put truncated or doctored Arrow IPC on the wire, which pyarrow.flight never sends.
Field numbers follow Flight.proto: FlightData {1 descriptor, 2 data_header, 3 app_metadata,
1000 data_body}; FlightDescriptor {1 type (PATH=1, CMD=2), 2 cmd, 3 path}; PutResult
{1 app_metadata}."""
import struct

import grpc

import flightsql_wire as wire

SERVICE = "/arrow.flight.protocol.FlightService/"


def ipc_parts(message_bytes):
    """An encapsulated IPC message (pa.Schema/RecordBatch .serialize()) -> (header, body)."""
    data = bytes(message_bytes)
    assert data[:4] == b"\xff\xff\xff\xff"
    (length,) = struct.unpack("<i", data[4:8])
    return data[8:8 + length], data[8 + length:]


def path_descriptor(*path):
    return wire.encode([(1, 1)] + [(3, p) for p in path])


def cmd_descriptor(cmd):
    return wire.encode([(1, 2), (2, cmd)])


def flight_data(descriptor=None, header=None, body=None, app_metadata=None):
    return wire.encode([(1, descriptor), (2, header), (3, app_metadata), (1000, body)])


class RawFlight:
    def __init__(self, uri):
        self.channel = grpc.insecure_channel(uri.replace("grpc://", ""), options=[
            ("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)])

    def close(self):
        self.channel.close()

    def do_put(self, messages, timeout=60):
        """Sends the FlightData messages, returns the PutResult app_metadata values; raises
        grpc.RpcError with the server's status."""
        call = self.channel.stream_stream(SERVICE + "DoPut")
        return [wire.decode(r).get(1, [b""])[0] for r in call(iter(messages), timeout=timeout)]

    def do_get(self, ticket, timeout=60):
        call = self.channel.unary_stream(SERVICE + "DoGet")
        return list(call(wire.encode([(1, ticket)]), timeout=timeout))

    def do_action(self, name, body, timeout=60):
        call = self.channel.unary_stream(SERVICE + "DoAction")
        return list(call(wire.encode([(1, name), (2, body)]), timeout=timeout))

    def get_flight_info(self, descriptor, timeout=60):
        call = self.channel.unary_unary(SERVICE + "GetFlightInfo")
        return call(descriptor, timeout=timeout)

    def poll_flight_info(self, descriptor, metadata=None, timeout=60):
        """PollFlightInfo (pyarrow has none): the serialized PollInfo {1 info, 2
        flight_descriptor (retry), 3 progress, 4 expiration_time}."""
        call = self.channel.unary_unary(SERVICE + "PollFlightInfo")
        return call(descriptor, metadata=metadata, timeout=timeout)
