//! `SlipService` with its `ListSlips` route answered from encoded pages.
//!
//! The generated server answers with an owned message, so [`SlipRoutes`] takes the one
//! `ListSlips` route ahead of it and answers it with the same gRPC machinery (gzip accepted, as
//! for every service) and a codec that writes the kept bytes ([`Encoded`]).

use std::convert::Infallible;
use std::task::{Context, Poll};

use onsite_proto::v1::{self as pb, slip_service_server::SlipServiceServer};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, EnabledCompressionEncodings, Service, StdError};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use super::slips::Slips;
use crate::encoded::Encoded;

const LIST_SLIPS: &str = "/onsite.v1.SlipService/ListSlips";

/// `SlipService`, with `ListSlips` answered from encoded pages.
#[derive(Clone, Debug)]
pub struct SlipRoutes {
    slips: Slips,
    generated: SlipServiceServer<Slips>,
}

impl SlipRoutes {
    pub fn new(slips: Slips) -> Self {
        let generated =
            SlipServiceServer::new(slips.clone()).accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        Self { slips, generated }
    }
}

impl NamedService for SlipRoutes {
    const NAME: &'static str = <SlipServiceServer<Slips> as NamedService>::NAME;
}

/// The `ListSlips` method answering with encoded pages.
struct ListEncoded(Slips);

impl UnaryService<pb::ListSlipsRequest> for ListEncoded {
    type Response = Encoded;
    type Future = BoxFuture<Response<Encoded>, Status>;

    fn call(&mut self, request: Request<pb::ListSlipsRequest>) -> Self::Future {
        let slips = self.0.clone();
        Box::pin(async move { slips.list_encoded(request).await })
    }
}

impl<B> Service<http::Request<B>> for SlipRoutes
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != LIST_SLIPS {
            return self.generated.call(request);
        }
        let method = ListEncoded(self.slips.clone());
        Box::pin(async move {
            let mut accepted = EnabledCompressionEncodings::default();
            accepted.enable(tonic::codec::CompressionEncoding::Gzip);
            let codec = tonic_prost::ProstCodec::<Encoded, pb::ListSlipsRequest>::default();
            let mut grpc = Grpc::new(codec).apply_compression_config(accepted, EnabledCompressionEncodings::default());
            Ok(grpc.unary(method, request).await)
        })
    }
}
