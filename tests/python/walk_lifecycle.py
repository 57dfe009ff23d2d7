"""A client in another language, built only from the .proto files, walks one ticket from
intake to a written-off slip against a running Onsite server.

Usage: ONSITE_ADDR=localhost:50051 [ONSITE_TLS_CA=ca.pem] ONSITE_MANAGER_TOKEN=... ONSITE_ENGINEER_TOKEN=...
       ONSITE_ENGINEER_NUMBER=17 python walk_lifecycle.py
"""

import glob
import hashlib
import importlib
import os
import struct
import sys
import tempfile
import uuid
import zlib

import grpc
from grpc_tools import protoc

import signoff

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "proto", "proto")


def signature_png(width=64, height=16):
    """A grayscale PNG with a line of ink across the middle: the server refuses a blank one."""
    rows = b"".join(b"\x00" + bytes(0 if y == height // 2 else 255 for _ in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = signature_png()


def generate_stubs():
    out = tempfile.mkdtemp(prefix="onsite-py-")
    protos = sorted(glob.glob(os.path.join(PROTO_ROOT, "onsite", "v1", "*.proto")))
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *protos]
    if protoc.main(args) != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    return {name: importlib.import_module(f"onsite.v1.{name}") for name in
            ["common_pb2", "tickets_pb2", "tickets_pb2_grpc", "slips_pb2", "slips_pb2_grpc",
             "customers_pb2", "customers_pb2_grpc", "engineers_pb2", "engineers_pb2_grpc", "sync_pb2",
             "sync_pb2_grpc"]}


def connect(addr, ca_file):
    """A channel to the server: TLS trusting `ca_file` when given, else plaintext."""
    if not ca_file:
        return grpc.insecure_channel(addr)
    with open(ca_file, "rb") as f:
        return grpc.secure_channel(addr, grpc.ssl_channel_credentials(root_certificates=f.read()))


def main():
    m = generate_stubs()
    channel = connect(os.environ["ONSITE_ADDR"], os.environ.get("ONSITE_TLS_CA"))
    manager = [("authorization", "Bearer " + os.environ["ONSITE_MANAGER_TOKEN"])]
    engineer = [("authorization", "Bearer " + os.environ["ONSITE_ENGINEER_TOKEN"])]
    tickets = m["tickets_pb2_grpc"].TicketServiceStub(channel)
    slips = m["slips_pb2_grpc"].SlipServiceStub(channel)
    customers = m["customers_pb2_grpc"].CustomerServiceStub(channel)
    engineers = m["engineers_pb2_grpc"].EngineerServiceStub(channel)
    t, s, c, e = m["tickets_pb2"], m["slips_pb2"], m["customers_pb2"], m["engineers_pb2"]
    checks = []

    def check(name, ok):
        checks.append((name, ok))
        print(("PASS " if ok else "FAIL ") + name)

    def rid():
        return str(uuid.uuid4())

    if os.environ.get("ONSITE_TLS_CA"):
        # Plaintext to a TLS server fails clearly, before any data is sent.
        plain = m["customers_pb2_grpc"].CustomerServiceStub(grpc.insecure_channel(os.environ["ONSITE_ADDR"]))
        try:
            plain.ListCustomers(c.ListCustomersRequest(page_size=1), metadata=manager, timeout=10)
            check("plaintext to the TLS server is refused", False)
        except grpc.RpcError as err:
            check("plaintext to the TLS server is refused", err.code() == grpc.StatusCode.UNAVAILABLE)

    customer_id = customers.ListCustomers(c.ListCustomersRequest(page_size=1), metadata=manager).customers[0].id
    customer = customers.GetCustomer(c.GetCustomerRequest(id=customer_id), metadata=manager)
    number = os.environ.get("ONSITE_ENGINEER_NUMBER", "17")
    crew = engineers.ListEngineers(e.ListEngineersRequest(page_size=200), metadata=manager).engineers
    engineer_id = next(x.id for x in crew if x.employee_number == number)

    intake = t.Ticket(title="Label printer prints blank pages", channel=t.CHANNEL_EMAIL, category=t.CATEGORY_OTHER,
                      severity=m["common_pb2"].SEVERITY_GENERAL, customer_id=customer.id, contact_name="Mr. Chen",
                      symptoms="Every second page is blank", impact_scope="Packing station 3")
    ticket = tickets.CreateTicket(t.CreateTicketRequest(request_id=rid(), ticket=intake), metadata=manager)
    check("ticket numbered TS<date>-<serial>", ticket.number.startswith("TS") and len(ticket.number) >= 15)
    try:
        tickets.CreateTicket(t.CreateTicketRequest(request_id=rid(), ticket=t.Ticket(title="x")), metadata=manager)
        check("incomplete intake refused", False)
    except grpc.RpcError as err:
        check("incomplete intake refused with INVALID_ARGUMENT", err.code() == grpc.StatusCode.INVALID_ARGUMENT)

    slip = slips.CreateSlip(s.CreateSlipRequest(request_id=rid(), ticket_id=ticket.id, site_id=customer.sites[0].id,
                                                instructions="Replace the print head if worn"), metadata=manager)

    def act(call, req, who):
        return call(req, metadata=who)

    slip = act(slips.VerifySlip, s.SlipActionRequest(request_id=rid(), slip_id=slip.id, etag=slip.etag), manager)
    slip = act(slips.DispatchSlip, s.DispatchSlipRequest(request_id=rid(), slip_id=slip.id, engineer_id=engineer_id), manager)
    slip = act(slips.ConfirmSlip, s.SlipActionRequest(request_id=rid(), slip_id=slip.id), engineer)
    window = m["common_pb2"].TimeWindow()
    window.start.GetCurrentTime()
    # A month ahead: the demo engineers' own appointments are around today, and the server
    # never double-books an engineer.
    window.start.seconds += 30 * 24 * 3600
    window.end.seconds = window.start.seconds + 7200
    slip = act(slips.BookAppointment, s.BookAppointmentRequest(request_id=rid(), slip_id=slip.id, window=window,
                                                               contact_name="Mr. Chen"), engineer)
    slip = act(slips.StartTravel, s.SlipActionRequest(request_id=rid(), slip_id=slip.id), engineer)
    here = m["common_pb2"].GeoPoint(latitude=customer.sites[0].position.latitude,
                                    longitude=customer.sites[0].position.longitude)
    slip = act(slips.CheckIn, s.CheckInRequest(request_id=rid(), slip_id=slip.id, position=here), engineer)
    check("engineer on site", slip.state == s.SLIP_STATE_ON_SITE)
    # Mr. Chen declines the backup and signs the waiver; its image is uploaded by hash.
    sync = m["sync_pb2_grpc"].SyncServiceStub(channel)
    waiver_png = signature_png(width=80)
    waiver_sha256 = hashlib.sha256(waiver_png).hexdigest()
    sync.UploadAttachment(iter([m["sync_pb2"].AttachmentChunk(sha256=waiver_sha256, total_size=len(waiver_png),
                                                              data=waiver_png, content_type="image/png")]),
                          metadata=engineer)
    act(slips.LogBackup, s.LogBackupRequest(request_id=rid(), slip_id=slip.id, backup=s.BackupRecord(
        kind=s.BACKUP_KIND_WAIVER, note="nothing on the device to keep",
        waiver=s.CustomerSignature(signer_name="Mr. Chen", signature_png_sha256=waiver_sha256))), engineer)
    act(slips.RecordFix, s.RecordFixRequest(request_id=rid(), slip_id=slip.id, fix=s.FixRecord(
        outcome=s.FIX_OUTCOME_RESOLVED, root_cause=t.ROOT_CAUSE_MATERIAL_DEFECT, solution="Replaced the print head",
        time_spent_minutes=40)), engineer)
    act(slips.AddPartsCost, s.AddPartsCostRequest(request_id=rid(), slip_id=slip.id, lines=[s.CostLine(
        kind=s.COST_KIND_PART, description="Print head PH-3", quantity=1,
        unit_price=m["common_pb2"].Money(minor_units=12900, currency_code="CNY"))]), engineer)
    # The phone registers its key, then signs what the customer sees: the report and the image.
    secret, device_id = os.urandom(32), str(uuid.uuid4())
    sync.RegisterDevice(m["sync_pb2"].RegisterDeviceRequest(device_id=device_id, public_key=signoff.public_key(secret),
                                                            label="python walk"), metadata=engineer)
    visit = slips.GetSlip(s.GetSlipRequest(id=slip.id), metadata=engineer)
    check("a material defect in warranty is free", visit.warranty.cover == s.COVER_FREE
          and not any(line.billable for line in visit.cost_lines))
    sign_off = s.SignOff(signer_name="Mr. Chen", satisfaction=s.SATISFACTION_SATISFIED, service_quality_rating=5,
                         signature_png_sha256=hashlib.sha256(PNG).hexdigest(), device_id=device_id)
    sign_off.signed_at.GetCurrentTime()
    sign_off.signed_at.nanos = 0
    sign_off.report_content = signoff.report_content(visit, sign_off)
    sign_off.report_content_sha256 = hashlib.sha256(sign_off.report_content).hexdigest()
    sign_off.device_signature = signoff.sign(secret, signoff.signed_message(sign_off.report_content_sha256,
                                                                           sign_off.signature_png_sha256))
    signed = act(slips.CaptureSignOff, s.CaptureSignOffRequest(request_id=rid(), slip_id=slip.id, signature_png=PNG,
                                                               sign_off=sign_off), engineer)
    check("sign-off verified by the server", signed.sign_off.verified)
    slip = act(slips.CompleteSlip, s.SlipActionRequest(request_id=rid(), slip_id=slip.id), engineer)
    check("slip completed", slip.state == s.SLIP_STATE_COMPLETED)
    done = act(slips.WriteOffSlip, s.WriteOffSlipRequest(request_id=rid(), slip_id=slip.id,
                                                         outcome=s.WRITE_OFF_OUTCOME_RESOLVED), manager)
    check("slip written off", done.slip.state == s.SLIP_STATE_WRITTEN_OFF)
    check("ticket resolved", done.ticket.status == t.TICKET_STATUS_RESOLVED)
    events = slips.ListSlipEvents(s.ListSlipEventsRequest(id=slip.id), metadata=manager).events
    check("audit history complete", [ev.action for ev in events][-1] == "write_off" and len(events) == 13)

    failed = sum(1 for _, ok in checks if not ok)
    print(f"python-client: {len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
