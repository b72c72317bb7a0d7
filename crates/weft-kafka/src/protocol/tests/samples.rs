//! Sample messages for the round-trip tests.

mod requests;
mod responses;

pub(super) use requests::sample_request;
pub(super) use responses::sample_response;
