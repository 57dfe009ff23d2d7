//! A message already encoded, sent as its bytes: a kept `ListSlips` page goes out with no copy,
//! encoding and freeing of its fifty summaries per call, which was most of a list call's cost
//! (BENCHMARKS.md).

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType};

use crate::kept::Weight;

/// A message already encoded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Encoded(pub Bytes);

impl Encoded {
    pub fn of(message: &impl prost::Message) -> Self {
        Self(Bytes::from(message.encode_to_vec()))
    }
}

impl Weight for Encoded {
    fn weight(&self) -> u64 {
        self.0.len() as u64
    }
}

impl prost::Message for Encoded {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    // Only ever sent: a field read into it is skipped.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use onsite_proto::v1 as pb;

    use super::*;

    #[test]
    fn an_encoded_message_is_sent_as_its_bytes() {
        let page = pb::ListSlipsResponse {
            slips: vec![pb::Slip { id: "s1".into(), ..Default::default() }],
            next_page_token: "next".into(),
        };
        let encoded = Encoded::of(&page);
        assert_eq!(encoded.encoded_len(), page.encoded_len());
        let sent = encoded.encode_to_vec();
        assert_eq!(pb::ListSlipsResponse::decode(sent.as_slice()), Ok(page));
    }
}
