#!/usr/bin/env bash
# Write the seed corpora: a few valid messages per fuzz target, as binary
# files. scripts/fuzz copies them into fuzz/corpus/<target>/ (gitignored)
# before fuzzing. Run again after editing; the files are committed.
set -euo pipefail
cd "$(dirname "$0")"

# seed TARGET NAME HEX...: write the bytes given in hex (spaces ignored).
seed() {
    local target=$1 name=$2
    shift 2
    local hex out="" i
    hex=$(printf '%s' "$*" | tr -d ' \n')
    for ((i = 0; i < ${#hex}; i += 2)); do
        out+="\\x${hex:i:2}"
    done
    mkdir -p "$target"
    printf '%b' "$out" >"$target/$name"
}

# Addresses as PCP carries them (IPv4-mapped IPv6, 16 bytes).
V4_ANY="00000000000000000000ffff00000000"         # ::ffff:0.0.0.0
V4_CLIENT="00000000000000000000ffffc0a80104"      # ::ffff:192.168.1.4
V4_OTHER="00000000000000000000ffffc0a80105"       # ::ffff:192.168.1.5
V4_EXTERNAL="00000000000000000000ffffcb007105"    # ::ffff:203.0.113.5
V4_PEER="00000000000000000000ffffc6336400"        # ::ffff:198.51.100.0
NONCE="0102030405060708090a0b0c"

# NAT-PMP requests (RFC 6886 sections 3.2-3.4).
seed natpmp_request external_address   0000
seed natpmp_request map_tcp_8080_to_80 "0002 0000 1f90 0050 00001c20"
seed natpmp_request map_udp_any_port   "0001 0000 1388 0000 00000e10"
seed natpmp_request delete_udp         "0001 0000 1388 0000 00000000"

# NAT-PMP responses: version 0, opcode 128+op, result, epoch, then the body.
seed natpmp_response external_address   "0080 0000 00000e10 cb007105"
seed natpmp_response map_tcp_granted    "0082 0000 00000e10 1f90 0050 00001c20"
seed natpmp_response map_udp_refused    "0081 0002 00000e10 1388 0000 00000000"
seed natpmp_response short_error        "0080 0001 00000009"
seed natpmp_response no_network         "0080 0003 00000001 00000000"

# PCP requests: version 2, opcode, reserved, lifetime, client address,
# then the MAP payload (nonce, protocol, reserved, ports, external address)
# and options (code, reserved, length, data, padding).
MAP_TCP="$NONCE 06000000 1f90 0050 $V4_ANY"
OPT_THIRD_PARTY="01 00 0010 $V4_OTHER"
OPT_PREFER_FAILURE="02 00 0000"
OPT_FILTER="03 00 0014 00 78 0000 $V4_PEER"   # prefix 120 = a /24 in IPv4
OPT_UNKNOWN_OPTIONAL="c8 00 0003 010203 00"   # code 200, skipped when decoding
seed pcp_request announce        "02 00 0000 00000000 $V4_CLIENT"
seed pcp_request map_tcp         "02 01 0000 00001c20 $V4_CLIENT $MAP_TCP"
seed pcp_request delete_udp      "02 01 0000 00000000 $V4_CLIENT $NONCE 11000000 1388 0000 $V4_ANY"
seed pcp_request map_all_options "02 01 0000 00001c20 $V4_CLIENT $MAP_TCP $OPT_THIRD_PARTY $OPT_PREFER_FAILURE $OPT_FILTER"
seed pcp_request map_unknown_optional "02 01 0000 00001c20 $V4_CLIENT $MAP_TCP $OPT_UNKNOWN_OPTIONAL $OPT_PREFER_FAILURE"

# PCP responses: version 2, 0x80|opcode, reserved, result, lifetime, epoch,
# 12 reserved bytes, then the payload and options.
RESERVED="000000000000000000000000"
seed pcp_response announce         "02 80 00 00 00000000 00000e10 $RESERVED"
seed pcp_response map_granted      "02 81 00 00 00001c20 00000e10 $RESERVED $NONCE 06000000 1f90 0050 $V4_EXTERNAL"
seed pcp_response map_not_authorized "02 81 00 02 00000708 00000e10 $RESERVED $NONCE 06000000 1f90 0000 $V4_ANY"
seed pcp_response header_only_error "02 81 00 02 00000708 00000e10 $RESERVED"
seed pcp_response unsupp_opcode    "02 82 00 04 00000708 00000e10 $RESERVED"
seed pcp_response map_with_options "02 81 00 00 00001c20 00000e10 $RESERVED $NONCE 06000000 1f90 0050 $V4_EXTERNAL $OPT_PREFER_FAILURE $OPT_FILTER $OPT_UNKNOWN_OPTIONAL"

# Epoch sequences: records of (u32 epoch, u16 milliseconds elapsed before it).
seed epoch steady        "000003e8 0000  00000424 ea60  00000462 ea60"
seed epoch restart       "00001388 0000  00000003 2710  0000000d 2710"
seed epoch fast_and_late "0000000a 0000  00002710 ea60  0000270f 0000  00002710 0001"

# SSDP search responses (text): miniupnpd 2.3.1's answer as captured in the
# testbed, a minimal LF-only one, and one refused (no LOCATION).
mkdir -p ssdp_response
printf 'HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nUSN: uuid:3a3b6c1e-0f1c-4a55-9b62-1d4a5c6e7f80::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nEXT:\r\nSERVER: Debian/6.18.44-fc-v669 UPnP/1.1 MiniUPnPd/2.3.1\r\nLOCATION: http://192.168.77.1:5000/rootDesc.xml\r\nOPT: "http://schemas.upnp.org/upnp/1/0/"; ns=01\r\n01-NLS: 1795705972\r\nBOOTID.UPNP.ORG: 1795705972\r\nCONFIGID.UPNP.ORG: 1337\r\n\r\n' >ssdp_response/miniupnpd
printf 'HTTP/1.0 200 OK\nlocation: http://[fe80::1]:49000/igd.xml?x=1\nst: urn:schemas-upnp-org:service:WANPPPConnection:1\n\n' >ssdp_response/lf_ipv6
printf 'HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n\r\n' >ssdp_response/no_location
