//! Assertions on gRPC errors.

use tonic::{Code, Response, Status};
use tonic_types::StatusExt;

/// The error of a call that must fail with `code`.
#[track_caller]
pub fn expect_code<T: std::fmt::Debug>(result: Result<Response<T>, Status>, code: Code) -> Status {
    match result {
        Ok(response) => panic!("expected {code:?}, got {:?}", response.into_inner()),
        Err(status) => {
            assert_eq!(status.code(), code, "unexpected status: {status:?}");
            status
        }
    }
}

/// The ErrorInfo reason of a status.
pub fn reason(status: &Status) -> String {
    let details = status.get_error_details();
    let info = details.error_info().unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, "onsite.dev");
    info.reason.clone()
}

/// The fields named by the BadRequest violations of a status.
pub fn violated_fields(status: &Status) -> Vec<String> {
    let details = status.get_error_details();
    let bad = details.bad_request().unwrap_or_else(|| panic!("no BadRequest in {status:?}"));
    bad.field_violations.iter().map(|v| v.field.clone()).collect()
}
