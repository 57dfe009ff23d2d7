//! `QuoteService`: quotes for billable work, drafted by the engineer or the desk, and the
//! customer's decision confirmed to the desk by phone or e-mail.

use chrono::Utc;
use onsite_core::error::Violations;
use onsite_core::ticket::{MAX_SHORT, MAX_TEXT};
use onsite_proto::convert::op::cost_lines;
use onsite_proto::v1::{self as pb, quote_service_server::QuoteService};
use tonic::{Request, Response, Status};

use super::handle;
use crate::app::Shared;
use crate::error::{Error, Result};
use crate::repo::quotes::{self, Channel, Decision};
use crate::{idempotency, lifecycle, views};

/// The quote service.
#[derive(Clone, Debug)]
pub struct Quotes {
    pub shared: Shared,
}

#[tonic::async_trait]
impl QuoteService for Quotes {
    async fn create_quote(&self, request: Request<pb::CreateQuoteRequest>) -> Result<Response<pb::Quote>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let req = request.get_ref();
            let lines = cost_lines(&req.lines);
            onsite_core::op::quote_total(&lines)?;
            let now = Utc::now();
            idempotency::run(app, &caller, "CreateQuote", &req.request_id, req, |txn| async {
                let quote = lifecycle::create_quote(&txn, &caller, &req.slip_id, &lines, now, &req.request_id).await?;
                Ok((txn, views::quote(&quote)))
            })
            .await
        })
        .await
    }

    async fn decide_quote(&self, request: Request<pb::DecideQuoteRequest>) -> Result<Response<pb::Quote>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let channel = desk_channel(req)?;
            let now = Utc::now();
            idempotency::run(app, &caller, "DecideQuote", &req.request_id, req, |txn| async {
                let decision = Decision {
                    quote_id: &req.quote_id,
                    etag: &req.etag,
                    accepted: req.accepted,
                    channel,
                    decided_by_name: &req.decided_by_name,
                    confirmation: &req.confirmation,
                };
                let quote = lifecycle::decide_quote(&txn, &caller, decision, now, &req.request_id).await?;
                Ok((txn, views::quote(&quote)))
            })
            .await
        })
        .await
    }

    async fn get_quote(&self, request: Request<pb::GetQuoteRequest>) -> Result<Response<pb::Quote>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let quote = quotes::load_visible(&app.db, &caller, &request.get_ref().id).await?;
            Ok(views::quote(&quote))
        })
        .await
    }
}

/// The desk records decisions confirmed by phone or e-mail, with who decided and how it
/// reached the desk; a decision signed on the phone arrives from the phone itself.
fn desk_channel(req: &pb::DecideQuoteRequest) -> Result<Channel> {
    let mut v = Violations::new();
    let channel = match pb::QuoteChannel::try_from(req.channel) {
        Ok(pb::QuoteChannel::Phone) => Some(Channel::Phone),
        Ok(pb::QuoteChannel::Email) => Some(Channel::Email),
        Ok(pb::QuoteChannel::OnDevice) => {
            v.push("channel", "a decision signed on the phone is sent by the phone; the desk records PHONE or EMAIL");
            None
        }
        _ => {
            v.push("channel", "is required: PHONE or EMAIL");
            None
        }
    };
    v.required_text("decided_by_name", &req.decided_by_name, MAX_SHORT);
    v.required_text("confirmation", &req.confirmation, MAX_TEXT);
    v.check()?;
    channel.ok_or_else(|| Error::invalid("channel", "is required"))
}
