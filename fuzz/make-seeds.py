#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into fuzz/seeds/<target>/ (committed; run
again after changing this file). Each seed is a well-formed input the fuzzer mutates from."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# krb5conf: files separated by NUL; `@/` is the folder of the files.
CONF = """[libdefaults]
 default_realm = CORP.EXAMPLE.COM
 dns_lookup_kdc = false
 dns_canonicalize_hostname = fallback
 rdns = false
 udp_preference_limit = 1
 clockskew = 300
[realms]
 CORP.EXAMPLE.COM = {
  kdc = tcp/kdc1.corp.example.com:88
  kdc = [::1]:750
  admin_server = kdc1.corp.example.com
 }
[domain_realm]
 .rds.amazonaws.com = CORP.EXAMPLE.COM
 db.example.test = CORP.EXAMPLE.COM
[capaths]
 ONPREM.EXAMPLE.COM = {
  CORP.EXAMPLE.COM = .
 }
"""
put("krb5conf", "plain", CONF)
put("krb5conf", "include", "include @/1.conf\n" + CONF + "\0[libdefaults]\n default_realm = \"A\\tB\"\n")
put("krb5conf", "loop", "include @/1.conf\n\0include @/2.conf\n\0include @/krb5.conf\n")
put("krb5conf", "includedir", "includedir @/\n[realms]\n X = {\n\0[libdefaults]\n rdns = yes\n\0\0")
put("krb5conf", "errors", "relation = outside\n[open\n}\n[s]\n a = {\n b\n")

# ccache: version 4, a header tag, the default principal and two credentials.
def data32(b):
    return struct.pack(">I", len(b)) + b


def principal(realm, *comps):
    out = struct.pack(">II", 1, len(comps)) + data32(realm.encode())
    for c in comps:
        out += data32(c.encode())
    return out


def cred(client, server, flags=0x40800000, v3=False):
    out = client + server
    # version 3 stores the enctype twice
    out += struct.pack(">H", 18) + (struct.pack(">H", 18) if v3 else b"") + data32(b"\x00" * 32)
    out += struct.pack(">IIII", 1700000000, 1700000000, 1700036000, 1700600000)
    out += b"\x00" + struct.pack(">I", flags)
    out += struct.pack(">I", 0) + struct.pack(">I", 0)
    out += data32(b"ticket") + data32(b"")
    return out


alice = principal("CORP.EXAMPLE.COM", "alice")
cc = struct.pack(">H", 0x0504) + struct.pack(">H", 12) + struct.pack(">HH", 1, 8) + struct.pack(">ii", -5, 0)
cc += alice
cc += cred(alice, principal("CORP.EXAMPLE.COM", "krbtgt", "CORP.EXAMPLE.COM"))
cc += cred(alice, principal("CORP.EXAMPLE.COM", "postgres", "db.example.test"))
cc += cred(alice, principal("X-CACHECONF:", "krb5_ccache_conf_data", "pa_type"))
put("ccache", "v4", cc)
cc3 = struct.pack(">H", 0x0503) + alice
put("ccache", "v3", cc3 + cred(alice, principal("CORP.EXAMPLE.COM", "krbtgt", "CORP.EXAMPLE.COM"), v3=True))


# keytab: version 2, entries with 8-bit and 32-bit kvno, and a hole.
def s16(s):
    return struct.pack(">H", len(s)) + s.encode()


def entry(realm, comps, kvno, enctype, big_kvno=False):
    body = struct.pack(">H", len(comps)) + s16(realm)
    for c in comps:
        body += s16(c)
    body += struct.pack(">I", 1) + struct.pack(">I", 1700000000)
    body += struct.pack(">B", kvno & 0xFF) + struct.pack(">H", enctype) + struct.pack(">H", 16) + b"\x11" * 16
    if big_kvno:
        body += struct.pack(">I", kvno)
    return struct.pack(">i", len(body)) + body


kt = b"\x05\x02"
kt += entry("CORP.EXAMPLE.COM", ["postgres", "db.example.test"], 3, 18)
kt += struct.pack(">i", -20) + b"\x00" * 20
kt += entry("CORP.EXAMPLE.COM", ["app-svc"], 300, 17, big_kvno=True)
put("keytab", "v2", kt)
put("keytab", "v1", b"\x05\x01" + struct.pack("<i", 0))


# kdc_reply: DER KRB-ERRORs (RFC 4120) and an AS-REP shape.
def der(tag, body):
    n = len(body)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = b"\x81" + bytes([n])
    else:
        ln = b"\x82" + struct.pack(">H", n)
    return bytes([tag]) + ln + body


def integer(v):
    b = v.to_bytes((v.bit_length() + 8) // 8 or 1, "big", signed=True)
    return der(0x02, b)


def ctx(n, body):
    return der(0xA0 + n, body)


def gstr(s):
    return der(0x1B, s.encode())


def name(*comps):
    return der(0x30, ctx(0, integer(1)) + ctx(1, der(0x30, b"".join(gstr(c) for c in comps))))


def krb_error(code, text=None):
    body = ctx(0, integer(5)) + ctx(1, integer(30))
    body += ctx(4, der(0x18, b"20261202074500Z")) + ctx(5, integer(123456))
    body += ctx(6, integer(code)) + ctx(9, gstr("CORP.EXAMPLE.COM"))
    body += ctx(10, name("krbtgt", "CORP.EXAMPLE.COM"))
    if text:
        body += ctx(11, gstr(text))
    return der(0x7E, der(0x30, body))


put("kdc_reply", "preauth", krb_error(25))
put("kdc_reply", "unknown", krb_error(6, "CLIENT_NOT_FOUND"))
enc = der(0x30, ctx(0, integer(18)) + ctx(1, integer(2)) + ctx(2, der(0x04, b"\x00" * 16)))
asrep = ctx(0, integer(5)) + ctx(1, integer(11)) + ctx(3, gstr("CORP.EXAMPLE.COM"))
asrep += ctx(4, name("alice")) + ctx(5, der(0x61, der(0x30, ctx(0, integer(5)) + ctx(1, gstr("CORP.EXAMPLE.COM")) + ctx(2, name("krbtgt", "CORP.EXAMPLE.COM")) + ctx(3, enc))))
asrep += ctx(6, enc)
put("kdc_reply", "asrep", der(0x6B, der(0x30, asrep)))


# login_messages: four setting bytes, then what the server sends.
def auth(code, extra=b""):
    return b"R" + struct.pack(">I", 8 + len(extra)) + struct.pack(">i", code) + extra


def error(code, msg):
    body = b"SFATAL\0VFATAL\0C" + code.encode() + b"\0M" + msg.encode() + b"\0Rauth_failed\0\0"
    return b"E" + struct.pack(">I", 4 + len(body)) + body


def msg(tag, body):
    return tag + struct.pack(">I", 4 + len(body)) + body


tail = msg(b"S", b"server_version\x0015\0") + msg(b"K", struct.pack(">II", 1, 2)) + msg(b"Z", b"I")
# a: bit0 fallback, bit1 provider login, bit2 verified, bit3 gssenc, bit4 tls, bit5 pipeline,
# bit6 end-point data, bit7 principal in another case.
put("login_messages", "gss", bytes([0x34, 0, 0, 0x10]) + auth(7) + auth(8, b"ap-rep") + auth(0) + tail)
put("login_messages", "gss_rounds", bytes([0x14, 0, 1, 0x03]) + auth(7) + auth(8, b"x") + auth(8, b"y") + auth(0))
put("login_messages", "md5", bytes([0x15, 0, 0, 0x40]) + auth(5, b"salt") + auth(0))
put("login_messages", "cleartext", bytes([0x17, 0, 0, 0x40]) + auth(3) + auth(0))
put("login_messages", "scram", bytes([0x55, 0, 0, 0x40]) + auth(10, b"SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0")
    + auth(11, b"r=abc,s=c2FsdA==,i=4096") + auth(12, b"v=xyz") + auth(0))
put("login_messages", "refused", bytes([0x34, 0, 0, 0x10]) + auth(7) + auth(8, b"ap-rep")
    + error("28000", 'GSSAPI authentication failed for user "alice@CORP.EXAMPLE.COM"'))
put("login_messages", "notice", bytes([0x30, 0, 0, 0x01]) + msg(b"N", b"SNOTICE\0Mhello\0\0") + auth(7) + auth(8, b"a") + auth(0))


# gssenc_framing: two setting bytes, then the server: 'G', handshake packets, data packets.
HDR = bytes([0x05, 0x04, 0x03, 0xFF]) + b"\0" * 12


def packet(plain):
    tok = HDR + plain
    return struct.pack(">I", len(tok)) + tok


put("gssenc_framing", "accept", b"\x00\x00G" + struct.pack(">I", 6) + b"ap-rep" + packet(b"R\0\0\0\x08\0\0\0\0") + packet(b"Z\0\0\0\x05I"))
put("gssenc_framing", "decline", b"\x00\x01N")
put("gssenc_framing", "rounds", b"\x02\x81G" + struct.pack(">I", 1) + b"a" + struct.pack(">I", 1) + b"b" + struct.pack(">I", 1) + b"c" + packet(b"x" * 3000))
put("gssenc_framing", "error", b"\x00\x00E\0\0\0\x40SFATAL\0")
