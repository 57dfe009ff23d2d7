//! Services of the contract that later work fills in. They check the caller like every other
//! service, then answer UNIMPLEMENTED, so nothing answers an unauthenticated call but health
//! and reflection.

use onsite_proto::v1::{self as pb, report_service_server::ReportService};
use tonic::{Request, Response, Status};

use crate::app::Shared;

/// A service not built yet.
#[derive(Clone, Debug)]
pub struct Pending {
    pub shared: Shared,
}

impl Pending {
    async fn refuse<T, R>(&self, request: &Request<R>) -> Result<Response<T>, Status> {
        self.shared.enter(request).await?;
        Err(Status::unimplemented("this service is not available yet"))
    }
}

#[tonic::async_trait]
impl ReportService for Pending {
    async fn get_service_report(
        &self,
        request: Request<pb::GetServiceReportRequest>,
    ) -> Result<Response<pb::ServiceReport>, Status> {
        self.refuse(&request).await
    }

    async fn get_monthly_statistics(
        &self,
        request: Request<pb::GetMonthlyStatisticsRequest>,
    ) -> Result<Response<pb::MonthlyStatistics>, Status> {
        self.refuse(&request).await
    }
}
