//! The customer's sign-off, shared by the device and the server.
//!
//! The device builds the service report's canonical content from the visit's records, hashes it
//! (SHA-256) and signs report hash + signature-image hash with its Ed25519 key. The server
//! rebuilds the content from the records it holds under the same ids and verifies the
//! signature, so a sign-off whose report or image was altered is refused. Both sides call the
//! functions here, so they cannot disagree on the format.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::v1 as pb;

/// Version tag of the canonical content.
pub const FORMAT: &str = "onsite-report/2";
/// Domain separation of the signed message.
const SIGNED_PREFIX: &[u8] = b"onsite-sign-off/1\0";
/// Version tag of the canonical content of a quote decision.
pub const QUOTE_FORMAT: &str = "onsite-quote/1";
/// Domain separation of a signed quote decision: a sign-off's signature never passes for one.
const QUOTE_PREFIX: &[u8] = b"onsite-quote/1\0";

/// What the customer signs: the visit as the engineer's device knew it.
///
/// Times recorded by the device clock are left out on purpose (the server corrects them for
/// clock skew); the signing time is in, as the device saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportContent {
    pub format: String,
    pub slip_id: String,
    pub ticket_number: String,
    pub visit_number: i32,
    pub engineer_id: String,
    pub check_in: Option<[f64; 2]>,
    pub backups: Vec<BackupLine>,
    pub fix: Option<FixLine>,
    pub costs: Vec<CostEntry>,
    pub signer_name: String,
    pub satisfaction: i32,
    pub ratings: [i32; 3],
    pub customer_opinion: String,
    pub signature_png_sha256: String,
    pub signed_at_unix_ms: i64,
}

/// A backup or waiver in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupLine {
    pub id: String,
    pub kind: i32,
    pub location: String,
    pub note: String,
    pub attachments: Vec<String>,
    pub contents: String,
    pub size_bytes: i64,
    pub performed_by: String,
    pub verified: bool,
    /// The waiver's signer and signature image hash.
    pub waiver: Option<SignatureLine>,
}

/// A customer's signature taken before the sign-off (a waiver, a custody authorisation): the
/// sign-off seals its image hash with the report. Its time is left out, as the server corrects
/// device times for clock skew.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignatureLine {
    pub signer_name: String,
    pub signature_png_sha256: String,
}

/// The customer's authorisation to take data off site.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustodyLine {
    pub scope: String,
    pub signature: Option<SignatureLine>,
}

/// The fix in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FixLine {
    pub id: String,
    pub outcome: i32,
    pub root_cause: i32,
    pub cause: String,
    pub solution: String,
    pub prevention: String,
    pub time_spent_minutes: i32,
    pub data_taken_off_site: bool,
    pub attachments: Vec<String>,
    pub custody: Option<CustodyLine>,
}

/// A parts or cost line in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostEntry {
    pub id: String,
    pub kind: i32,
    pub description: String,
    pub part_number: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub currency: String,
    pub billable: bool,
}

/// Why a sign-off does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignOffError {
    #[error("the device public key is not a valid Ed25519 key")]
    BadKey,
    #[error("the device signature is not a valid Ed25519 signature")]
    BadSignature,
    #[error("the report content does not match its hash")]
    ContentHash,
    #[error("the report content is not a {FORMAT} document")]
    ContentFormat,
    #[error("the device signature does not verify against the device's registered key")]
    SignatureMismatch,
}

impl ReportContent {
    /// The content of `slip`'s records with `sign_off`'s fields (hashes and signature unused).
    pub fn build(slip: &pb::Slip, sign_off: &pb::SignOff) -> Self {
        let trim = |s: &str| s.trim().to_owned();
        let check_in =
            slip.appointment.as_ref().and_then(|a| a.check_in_position.as_ref()).map(|p| [p.latitude, p.longitude]);
        let mut costs: Vec<CostEntry> = slip.cost_lines.iter().map(cost_entry).collect();
        costs.sort_by(|a, b| a.id.cmp(&b.id));
        let mut backups: Vec<BackupLine> = slip
            .backups
            .iter()
            .map(|b| BackupLine {
                id: b.id.clone(),
                kind: b.kind,
                location: trim(&b.location),
                note: trim(&b.note),
                attachments: b.attachment_sha256.clone(),
                contents: trim(&b.contents),
                size_bytes: b.size_bytes,
                performed_by: trim(&b.performed_by),
                verified: b.verified,
                waiver: b.waiver.as_ref().map(signature_line),
            })
            .collect();
        backups.sort_by(|a, b| a.id.cmp(&b.id));
        Self {
            format: FORMAT.to_owned(),
            slip_id: slip.id.clone(),
            ticket_number: slip.ticket_number.clone(),
            visit_number: slip.visit_number,
            engineer_id: slip.engineer_id.clone(),
            check_in,
            backups,
            fix: slip.fix.as_ref().map(|f| FixLine {
                id: f.id.clone(),
                outcome: f.outcome,
                root_cause: f.root_cause,
                cause: trim(&f.cause),
                solution: trim(&f.solution),
                prevention: trim(&f.prevention),
                time_spent_minutes: f.time_spent_minutes,
                data_taken_off_site: f.data_taken_off_site,
                attachments: f.attachment_sha256.clone(),
                custody: f.custody.as_ref().map(|c| CustodyLine {
                    scope: trim(&c.scope),
                    signature: c.signature.as_ref().map(signature_line),
                }),
            }),
            costs,
            signer_name: trim(&sign_off.signer_name),
            satisfaction: sign_off.satisfaction,
            ratings: [sign_off.service_quality_rating, sign_off.product_rating, sign_off.support_rating],
            customer_opinion: trim(&sign_off.customer_opinion),
            signature_png_sha256: sign_off.signature_png_sha256.clone(),
            signed_at_unix_ms: unix_ms(sign_off.signed_at.as_ref()),
        }
    }

    /// Reads canonical bytes back.
    pub fn parse(bytes: &[u8]) -> Result<Self, SignOffError> {
        let content: Self = serde_json::from_slice(bytes).map_err(|_| SignOffError::ContentFormat)?;
        if content.format != FORMAT {
            return Err(SignOffError::ContentFormat);
        }
        Ok(content)
    }

    /// The canonical bytes: compact JSON in field order.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain structs of strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Keeps only the records `self` lists, so a server that knows more than the device
    /// (a manager's line added later) can rebuild exactly what was signed.
    pub fn restrict(slip: &pb::Slip, listed: &Self) -> pb::Slip {
        let mut slip = slip.clone();
        slip.backups.retain(|b| listed.backups.iter().any(|l| l.id == b.id));
        slip.cost_lines.retain(|c| listed.costs.iter().any(|l| l.id == c.id));
        if listed.fix.as_ref().map(|f| &f.id) != slip.fix.as_ref().map(|f| &f.id) {
            slip.fix = None;
        }
        slip
    }
}

/// What the customer signs when deciding on a quote on the engineer's phone: the quote as the
/// device holds it, and the decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuoteContent {
    pub format: String,
    pub quote_id: String,
    pub slip_id: String,
    pub ticket_number: String,
    pub lines: Vec<CostEntry>,
    pub total_minor: i64,
    pub currency: String,
    pub accepted: bool,
    pub signer_name: String,
    pub signature_png_sha256: String,
    pub signed_at_unix_ms: i64,
}

impl QuoteContent {
    /// The content of `decision` on the quote of `slip` it names; `None` when the slip has no
    /// such quote.
    pub fn build(slip: &pb::Slip, decision: &pb::QuoteDecisionOp) -> Option<Self> {
        let quote = slip.quotes.iter().find(|q| q.id == decision.quote_id)?;
        let mut lines: Vec<CostEntry> = quote.lines.iter().map(cost_entry).collect();
        lines.sort_by(|a, b| a.id.cmp(&b.id));
        let total = quote.total.clone().unwrap_or_default();
        Some(Self {
            format: QUOTE_FORMAT.to_owned(),
            quote_id: quote.id.clone(),
            slip_id: slip.id.clone(),
            ticket_number: slip.ticket_number.clone(),
            lines,
            total_minor: total.minor_units,
            currency: total.currency_code,
            accepted: decision.accepted,
            signer_name: decision.signer_name.trim().to_owned(),
            signature_png_sha256: decision.signature_png_sha256.clone(),
            signed_at_unix_ms: unix_ms(decision.signed_at.as_ref()),
        })
    }

    /// The canonical bytes: compact JSON in field order.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain structs of strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Completes a quote decision for `slip` as the device does: the canonical content, its hash
/// and the device key's signature. `decision` must carry the image hash already; `None` when
/// the slip has no such quote.
pub fn seal_quote(key: &[u8; 32], slip: &pb::Slip, mut decision: pb::QuoteDecisionOp) -> Option<pb::QuoteDecisionOp> {
    let content = QuoteContent::build(slip, &decision)?.to_bytes();
    decision.content_sha256 = sha256_hex(&content);
    let message = signed(QUOTE_PREFIX, &decision.content_sha256, &decision.signature_png_sha256);
    decision.device_signature = SigningKey::from_bytes(key).sign(&message).to_bytes().to_vec();
    decision.content = content;
    Some(decision)
}

/// Checks a quote decision's seal as [`verify`] checks a sign-off's.
pub fn verify_quote(
    public_key: &[u8],
    content: &[u8],
    content_sha256: &str,
    png_sha256: &str,
    signature: &[u8],
) -> Result<(), SignOffError> {
    verify_signed(QUOTE_PREFIX, public_key, content, content_sha256, png_sha256, signature)
}

fn cost_entry(c: &pb::CostLine) -> CostEntry {
    CostEntry {
        id: c.id.clone(),
        kind: c.kind,
        description: c.description.trim().to_owned(),
        part_number: c.part_number.trim().to_owned(),
        quantity: c.quantity,
        unit_price_minor: c.unit_price.as_ref().map_or(0, |m| m.minor_units),
        currency: c.unit_price.as_ref().map(|m| m.currency_code.clone()).unwrap_or_default(),
        billable: c.billable,
    }
}

fn signature_line(s: &pb::CustomerSignature) -> SignatureLine {
    SignatureLine { signer_name: s.signer_name.trim().to_owned(), signature_png_sha256: s.signature_png_sha256.clone() }
}

fn unix_ms(t: Option<&prost_types::Timestamp>) -> i64 {
    t.map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos / 1_000_000))
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The bytes the device key signs for a sign-off.
fn signed_message(report_sha256: &str, png_sha256: &str) -> Vec<u8> {
    signed(SIGNED_PREFIX, report_sha256, png_sha256)
}

/// The bytes the device key signs: the kind of record, the content hash and the image hash.
fn signed(prefix: &[u8], report_sha256: &str, png_sha256: &str) -> Vec<u8> {
    let mut m = prefix.to_vec();
    m.extend_from_slice(report_sha256.as_bytes());
    m.push(0);
    m.extend_from_slice(png_sha256.as_bytes());
    m
}

/// Signs report hash + image hash with the device key.
pub fn sign(key: &[u8; 32], report_sha256: &str, png_sha256: &str) -> Vec<u8> {
    SigningKey::from_bytes(key).sign(&signed_message(report_sha256, png_sha256)).to_bytes().to_vec()
}

/// Completes a sign-off for `slip` as the device does: the canonical content, its hash and the
/// device key's signature over both hashes. `sign_off` must carry the image hash already.
pub fn seal(key: &[u8; 32], slip: &pb::Slip, mut sign_off: pb::SignOff) -> pb::SignOff {
    let content = ReportContent::build(slip, &sign_off).to_bytes();
    sign_off.report_content_sha256 = sha256_hex(&content);
    sign_off.device_signature = sign(key, &sign_off.report_content_sha256, &sign_off.signature_png_sha256);
    sign_off.report_content = content;
    sign_off
}

/// The public key of a device key.
pub fn public_key(key: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(key).verifying_key().to_bytes()
}

/// Checks that `content` hashes to `report_sha256` and that `signature` is the device's over
/// both hashes.
pub fn verify(
    public_key: &[u8],
    content: &[u8],
    report_sha256: &str,
    png_sha256: &str,
    signature: &[u8],
) -> Result<(), SignOffError> {
    verify_signed(SIGNED_PREFIX, public_key, content, report_sha256, png_sha256, signature)
}

fn verify_signed(
    prefix: &[u8],
    public_key: &[u8],
    content: &[u8],
    report_sha256: &str,
    png_sha256: &str,
    signature: &[u8],
) -> Result<(), SignOffError> {
    let key: [u8; 32] = public_key.try_into().map_err(|_| SignOffError::BadKey)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| SignOffError::BadKey)?;
    let signature = Signature::from_slice(signature).map_err(|_| SignOffError::BadSignature)?;
    if sha256_hex(content) != report_sha256 {
        return Err(SignOffError::ContentHash);
    }
    key.verify(&signed(prefix, report_sha256, png_sha256), &signature).map_err(|_| SignOffError::SignatureMismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit() -> (pb::Slip, pb::SignOff) {
        let slip = pb::Slip {
            id: "s1".into(),
            ticket_number: "TS20261123-0001".into(),
            visit_number: 1,
            engineer_id: "e1".into(),
            fix: Some(pb::FixRecord {
                id: "f1".into(),
                outcome: 1,
                solution: " replaced fan ".into(),
                ..Default::default()
            }),
            cost_lines: vec![
                pb::CostLine { id: "c2".into(), description: "fan".into(), quantity: 1, ..Default::default() },
                pb::CostLine { id: "c1".into(), description: "labour".into(), quantity: 2, ..Default::default() },
            ],
            ..Default::default()
        };
        let sign_off = pb::SignOff {
            signer_name: "Wang Fang".into(),
            signature_png_sha256: "ab".repeat(32),
            ..Default::default()
        };
        (slip, sign_off)
    }

    #[test]
    fn content_is_canonical_and_round_trips() {
        let (slip, sign_off) = visit();
        let content = ReportContent::build(&slip, &sign_off);
        let mut reordered = slip.clone();
        reordered.cost_lines.reverse();
        assert_eq!(ReportContent::build(&reordered, &sign_off).to_bytes(), content.to_bytes());
        assert_eq!(ReportContent::parse(&content.to_bytes()), Ok(content.clone()));
        assert_eq!(content.fix.as_ref().map(|f| f.solution.as_str()), Some("replaced fan"));
    }

    #[test]
    fn restrict_drops_records_the_device_did_not_sign() {
        let (slip, sign_off) = visit();
        let signed = ReportContent::build(&slip, &sign_off);
        let mut later = slip.clone();
        later.cost_lines.push(pb::CostLine { id: "c3".into(), ..Default::default() });
        let rebuilt = ReportContent::build(&ReportContent::restrict(&later, &signed), &sign_off);
        assert_eq!(rebuilt, signed);
    }

    #[test]
    fn altered_content_or_image_fails_verification() {
        let key = [7u8; 32];
        let (slip, sign_off) = visit();
        let content = ReportContent::build(&slip, &sign_off).to_bytes();
        let report = sha256_hex(&content);
        let png = "cd".repeat(32);
        let signature = sign(&key, &report, &png);
        let public = public_key(&key);
        assert_eq!(verify(&public, &content, &report, &png, &signature), Ok(()));
        let mut altered = content.clone();
        altered[20] ^= 1;
        assert_eq!(verify(&public, &altered, &report, &png, &signature), Err(SignOffError::ContentHash));
        let forged = sha256_hex(&altered);
        assert_eq!(verify(&public, &altered, &forged, &png, &signature), Err(SignOffError::SignatureMismatch));
        assert_eq!(
            verify(&public, &content, &report, &"ef".repeat(32), &signature),
            Err(SignOffError::SignatureMismatch)
        );
        assert_eq!(
            verify(&public_key(&[8u8; 32]), &content, &report, &png, &signature),
            Err(SignOffError::SignatureMismatch)
        );
        assert_eq!(verify(&public[..31], &content, &report, &png, &signature), Err(SignOffError::BadKey));
    }
}
