"""The customer's sign-off as a device signs it, written a second time in Python from
ARCHITECTURE.md and `onsite_proto::signoff`: the canonical report content (compact JSON in a
fixed field order) and an Ed25519 signature over "onsite-sign-off/1\\0" + report hash + "\\0" +
image hash. Ed25519 is the RFC 8032 reference arithmetic: slow, dependency-free, and only for
tests."""

import hashlib
import json

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    a_ = (y1 - x1) * (y2 - x2) % P
    b_ = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b_ - a_, d - c, d + c, b_ + a_
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, point):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, point)
        point = _add(point, point)
        s >>= 1
    return q


def _recover_x(y, sign):
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x & 1) != sign:
        x = P - x
    return x


_GY = 4 * pow(5, P - 2, P) % P
G = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % P)


def _compress(point):
    x, y, z, _ = point
    zinv = pow(z, P - 2, P)
    x, y = x * zinv % P, y * zinv % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _h(m):
    return int.from_bytes(hashlib.sha512(m).digest(), "little")


def _expand(secret):
    h = hashlib.sha512(secret).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def public_key(secret):
    a, _ = _expand(secret)
    return _compress(_mul(a, G))


def sign(secret, message):
    a, prefix = _expand(secret)
    public = _compress(_mul(a, G))
    r = _h(prefix + message) % L
    big_r = _compress(_mul(r, G))
    s = (r + _h(big_r + public + message) * a) % L
    return big_r + int.to_bytes(s, 32, "little")


def _signature(signature):
    """A customer's signature taken before the sign-off, as the report names it."""
    return {"signer_name": signature.signer_name.strip(), "signature_png_sha256": signature.signature_png_sha256}


def report_content(slip, sign_off):
    """The canonical bytes of what the customer signs, from a Slip and a SignOff message."""
    check_in = None
    if slip.HasField("appointment") and slip.appointment.HasField("check_in_position"):
        check_in = [slip.appointment.check_in_position.latitude, slip.appointment.check_in_position.longitude]
    fix = None
    if slip.HasField("fix"):
        f = slip.fix
        fix = {"id": f.id, "outcome": f.outcome, "root_cause": f.root_cause, "cause": f.cause.strip(),
               "solution": f.solution.strip(), "prevention": f.prevention.strip(),
               "time_spent_minutes": f.time_spent_minutes, "data_taken_off_site": f.data_taken_off_site,
               "attachments": list(f.attachment_sha256),
               "custody": {"scope": f.custody.scope.strip(),
                           "signature": _signature(f.custody.signature) if f.custody.HasField("signature") else None}
               if f.HasField("custody") else None}
    content = {
        "format": "onsite-report/2",
        "slip_id": slip.id,
        "ticket_number": slip.ticket_number,
        "visit_number": slip.visit_number,
        "engineer_id": slip.engineer_id,
        "check_in": check_in,
        "backups": [{"id": b.id, "kind": b.kind, "location": b.location.strip(), "note": b.note.strip(),
                     "attachments": list(b.attachment_sha256), "contents": b.contents.strip(),
                     "size_bytes": b.size_bytes, "performed_by": b.performed_by.strip(), "verified": b.verified,
                     "waiver": _signature(b.waiver) if b.HasField("waiver") else None}
                    for b in sorted(slip.backups, key=lambda b: b.id)],
        "fix": fix,
        "costs": [{"id": c.id, "kind": c.kind, "description": c.description.strip(),
                   "part_number": c.part_number.strip(), "quantity": c.quantity,
                   "unit_price_minor": c.unit_price.minor_units, "currency": c.unit_price.currency_code,
                   "billable": c.billable} for c in sorted(slip.cost_lines, key=lambda c: c.id)],
        "signer_name": sign_off.signer_name.strip(),
        "satisfaction": sign_off.satisfaction,
        "ratings": [sign_off.service_quality_rating, sign_off.product_rating, sign_off.support_rating],
        "customer_opinion": sign_off.customer_opinion.strip(),
        "signature_png_sha256": sign_off.signature_png_sha256,
        "signed_at_unix_ms": sign_off.signed_at.seconds * 1000 + sign_off.signed_at.nanos // 1_000_000,
    }
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode()


def signed_message(report_sha256, png_sha256):
    return b"onsite-sign-off/1\0" + report_sha256.encode() + b"\0" + png_sha256.encode()
