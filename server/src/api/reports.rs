//! `ReportService`: the service report PDF and the monthly statistics.

use onsite_proto::v1::{self as pb, report_service_server::ReportService};
use tonic::{Request, Response, Status};

use super::handle;
use crate::app::Shared;
use crate::error::Error;
use crate::report::{self, Lang};
use crate::statistics::{self, YearMonth};

/// The report service.
#[derive(Clone, Debug)]
pub struct Reports {
    pub shared: Shared,
}

#[tonic::async_trait]
impl ReportService for Reports {
    async fn get_service_report(
        &self,
        request: Request<pb::GetServiceReportRequest>,
    ) -> Result<Response<pb::ServiceReport>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            let req = request.get_ref();
            let lang = match req.language.trim() {
                "" => app.config.report_lang,
                tag => Lang::parse(tag).ok_or_else(|| Error::invalid("language", "must be zh-CN or en"))?,
            };
            let record = report::gather(app, &caller, &req.slip_id).await?;
            let font = app.fonts.get().await.map_err(|e| Error::precondition("REPORT_FONT_MISSING", e))?.clone();
            let sign_off = record.slip.sign_off.clone().unwrap_or_default();
            let file_name = format!("service-report-{}-{}.pdf", record.slip.ticket_number, record.slip.visit_number);
            // Laying out and subsetting the font takes milliseconds of CPU: off the async workers.
            let pdf = tokio::task::spawn_blocking(move || report::render(&record, &font, lang))
                .await
                .map_err(|e| Error::Internal(format!("rendering the report: {e}")))?
                .map_err(|e| Error::Internal(format!("rendering the report: {e}")))?;
            Ok(pb::ServiceReport {
                pdf,
                report_content_sha256: sign_off.report_content_sha256,
                signature_verified: sign_off.verified,
                file_name,
            })
        })
        .await
    }

    async fn get_monthly_statistics(
        &self,
        request: Request<pb::GetMonthlyStatisticsRequest>,
    ) -> Result<Response<pb::MonthlyStatistics>, Status> {
        handle(async {
            let (app, caller) = self.shared.enter(&request).await?;
            caller.require_manager()?;
            let req = request.get_ref();
            let month = YearMonth::new(req.year, req.month)?;
            statistics::shown(app, month, req.revision).await
        })
        .await
    }
}
