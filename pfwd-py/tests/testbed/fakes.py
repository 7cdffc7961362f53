"""Routers of the test's own, run in the testbed's router namespace only.

``silent``: takes PCP/NAT-PMP requests on 192.168.77.1:5351, never answers.
``faulty``: answers NAT-PMP's address request, garbles every mapping answer.
"""

import socket
import struct
import sys
import time

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("192.168.77.1", 5351))
print("ready", flush=True)
start = time.monotonic()
while True:
    data, addr = sock.recvfrom(2000)
    if sys.argv[1] == "silent" or len(data) < 2 or data[0] != 0:
        continue
    if data[1] == 0:
        epoch = int(time.monotonic() - start) + 100
        sock.sendto(struct.pack("!BBHI4s", 0, 128, 0, epoch, socket.inet_aton("5.5.5.7")), addr)
    else:
        sock.sendto(bytes([0, 128 + data[1], 0, 0, 1, 2, 3]), addr)
