#!/usr/bin/python3
"""A real Modbus peer for Plantwire's interop suites and benchmark: Debian's pymodbus (3.0.x).

Serves Modbus TCP (--tcp PORT) or Modbus RTU on a serial device (--rtu /dev/pts/N, for a socat
pseudo-terminal pair) from a register map given as JSON (--map FILE). The map lists typed values,
and this script encodes them itself with Python's struct module, so that a test compares
Plantwire's decoder with an independent encoder rather than with itself:

  {"units": [1, 2],                      # unit ids that answer; any other id gets no answer at all
   "values": [{"unit": 1, "area": "holding", "address": 0, "type": "float32", "order": "CDAB",
               "raw": 21.5}, ...]}       # raw: the number as stored (before Plantwire's scale/offset)

Types: bool, int16, uint16, int32, uint32, float32, int64, uint64, float64, string (with "length"
in registers). Orders name the arrival position of each big-endian byte: "CDAB" means the
value's bytes C D A B arrive in that order (DESIGN.md section 4). bool on a register area takes
"bit". Every write a client makes is printed as one line:
  WRITE unit=1 area=holding address=10 values=[1, 2]
The script prints "READY" once it accepts requests, and exits at once on SIGTERM.
"""
import argparse
import asyncio
import json
import logging
import os
import signal
import struct
import sys

import pymodbus
from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer

SIZE = 65536
FORMATS = {
    "int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f",
    "int64": ">q", "uint64": ">Q", "float64": ">d",
}
DEFAULT_ORDER = {2: "AB", 4: "ABCD", 8: "ABCDEFGH"}


def encode(value):
    """The 16-bit registers (or, for bit areas, the bits) that hold one typed value."""
    kind = value["type"]
    if kind == "string":
        length = int(value["length"])
        data = value["raw"].encode("latin-1")[: 2 * length].ljust(2 * length, b"\0")
        order = value.get("order", "AB")
        words = []
        for i in range(length):
            hi, lo = data[2 * i], data[2 * i + 1]
            words.append((lo << 8 | hi) if order == "BA" else (hi << 8 | lo))
        return words
    big = struct.pack(FORMATS[kind], value["raw"])
    order = value.get("order") or DEFAULT_ORDER[len(big)]
    if len(order) != len(big):
        raise ValueError(f"order {order} does not fit {kind}")
    arrived = bytes(big[ord(letter) - ord("A")] for letter in order)
    return [arrived[i] << 8 | arrived[i + 1] for i in range(0, len(arrived), 2)]


class LoggedBlock(ModbusSequentialDataBlock):
    """A data block that reports every client write on stdout."""

    def __init__(self, unit, area):
        super().__init__(0, [0] * SIZE)
        self.unit = unit
        self.area = area
        self.loading = True

    def setValues(self, address, values):  # noqa: N802 (pymodbus' name)
        super().setValues(address, values)
        if not self.loading:
            shown = [int(v) for v in (values if isinstance(values, list) else [values])]
            print(f"WRITE unit={self.unit} area={self.area} address={address} values={shown}", flush=True)


def build_context(spec):
    units = spec.get("units", [1])
    slaves = {}
    blocks = {}
    for unit in units:
        b = {area: LoggedBlock(unit, area) for area in ("coil", "discrete", "holding", "input")}
        blocks[unit] = b
        # zero_mode: protocol address 0 is element 0 (pymodbus otherwise adds 1).
        slaves[unit] = ModbusSlaveContext(co=b["coil"], di=b["discrete"], hr=b["holding"], ir=b["input"], zero_mode=True)
    for value in spec.get("values", []):
        unit = value.get("unit", units[0])
        block = blocks[unit][value["area"]]
        address = int(value["address"])
        if value["type"] == "bool":
            if value["area"] in ("coil", "discrete"):
                block.setValues(address, [1 if value["raw"] else 0])
            else:
                word = block.getValues(address, 1)[0]
                bit = 1 << int(value.get("bit", 0))
                block.setValues(address, [(word | bit) if value["raw"] else (word & ~bit & 0xFFFF)])
        else:
            block.setValues(address, encode(value))
    for b in blocks.values():
        for block in b.values():
            block.loading = False
    return ModbusServerContext(slaves=slaves, single=False)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tcp", type=int, help="TCP port on 127.0.0.1")
    parser.add_argument("--rtu", help="serial device for Modbus RTU")
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--map", help="JSON register map")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL, stream=sys.stderr)
    spec = {"units": [1], "values": []}
    if args.map:
        with open(args.map, encoding="utf-8") as f:
            spec = json.load(f)
    context = build_context(spec)
    # ignore_missing_slaves: a unit id nobody holds gets no answer, as behind a gateway on RS-485.
    if args.tcp:
        server = ModbusTcpServer(context, ModbusSocketFramer, None, ("127.0.0.1", args.tcp),
                                 allow_reuse_address=True, ignore_missing_slaves=True)
    elif args.rtu:
        server = ModbusSerialServer(context, ModbusRtuFramer, None, port=args.rtu, baudrate=args.baud,
                                    bytesize=8, parity="N", stopbits=1, ignore_missing_slaves=True)
        await server.start()
    else:
        parser.error("give --tcp PORT or --rtu DEVICE")
    # pymodbus 3.0's shutdown() can wait forever for a connected client: a peer that is told to
    # stop just goes, as a device that is switched off does.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    task = asyncio.create_task(server.serve_forever())
    if args.tcp:
        while server.server is None:
            await asyncio.sleep(0.01)
    print(f"READY pymodbus={pymodbus.__version__} units={spec.get('units', [1])}", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main())
