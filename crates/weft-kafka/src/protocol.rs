//! The Kafka wire protocol: a sans-I/O codec for the requests weft's Kafka listener
//! serves and the responses it sends.
//!
//! [`decode_request`] turns one request frame (without its size prefix) into a
//! [`RequestHeader`] and a [`Request`]; [`encode_response`] turns a [`Response`] into a
//! [`ResponseFrame`] of chunks ready for `write_vectored`. Byte fields of requests
//! (produce records, group metadata and assignments, SASL bytes) are zero-copy slices of
//! the frame; the record sets of fetch responses are spliced in as their own chunks.
//!
//! The served APIs and versions are Apache Kafka 3.0's ([`SUPPORTED_APIS`]). Each API's
//! module lists its field layout with the version range of every field, taken from the
//! Kafka message schemas. [`encode_request`] and [`decode_response`] are the client-side
//! mirror, used by tests and tools.

pub mod admin;
pub mod api_versions;
pub mod error;
pub mod fetch;
pub mod groups;
pub mod metadata;
pub mod offsets;
pub mod produce;
pub mod sasl;
pub(crate) mod wire;

#[cfg(test)]
mod tests;

use bytes::Bytes;

use self::wire::{Ctx, Reader, Wire, WireError, Writer};

pub use self::admin::*;
pub use self::api_versions::*;
pub use self::error::ErrorCode;
pub use self::fetch::*;
pub use self::groups::*;
pub use self::metadata::*;
pub use self::offsets::*;
pub use self::produce::*;
pub use self::sasl::*;

/// Flexible threshold of an API that has no flexible version.
const NEVER: i16 = i16::MAX;

/// A served API and its version range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRange {
    /// The API.
    pub key: ApiKey,
    /// The oldest served version.
    pub min: i16,
    /// The newest served version.
    pub max: i16,
}

macro_rules! apis {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $key:literal, versions $min:literal ..= $max:literal,
        flexible $flex:expr, $request:ty, $response:ty;
    )*) => {
        /// The Kafka APIs weft serves, by API key.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i16)]
        pub enum ApiKey {
            $($(#[$doc])* $variant = $key,)*
        }

        impl TryFrom<i16> for ApiKey {
            type Error = i16;

            /// The API with this key, or the key back if weft does not serve it.
            fn try_from(key: i16) -> Result<Self, i16> {
                match key {
                    $($key => Ok(Self::$variant),)*
                    other => Err(other),
                }
            }
        }

        impl ApiKey {
            /// The API's name as Kafka spells it, for logs.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant),)*
                }
            }

            /// The served version range.
            pub fn range(self) -> ApiRange {
                match self {
                    $(Self::$variant => ApiRange { key: self, min: $min, max: $max },)*
                }
            }

            /// True if `version` is a flexible version of this API (compact encodings,
            /// tagged fields, request header v2 and, except for ApiVersions, response
            /// header v1).
            pub fn is_flexible(self, version: i16) -> bool {
                match self {
                    $(Self::$variant => version >= $flex,)*
                }
            }
        }

        /// Every served API with Kafka 3.0's version range, in API key order.
        pub const SUPPORTED_APIS: &[ApiRange] = &[
            $(ApiRange { key: ApiKey::$variant, min: $min, max: $max },)*
        ];

        /// A decoded request body, one variant per API.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Request {
            $($(#[$doc])* $variant($request),)*
        }

        /// A response body, one variant per API.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Response {
            $($(#[$doc])* $variant($response),)*
        }

        impl Request {
            /// The API of this request.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Self::$variant(_) => ApiKey::$variant,)*
                }
            }

            fn read(key: ApiKey, reader: &mut Reader, ctx: Ctx) -> Result<Self, WireError> {
                match key {
                    $(ApiKey::$variant => <$request>::read(reader, ctx).map(Self::$variant),)*
                }
            }

            fn write(&self, writer: &mut Writer, ctx: Ctx) {
                match self {
                    $(Self::$variant(body) => body.write(writer, ctx),)*
                }
            }
        }

        impl Response {
            /// The API of this response.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(Self::$variant(_) => ApiKey::$variant,)*
                }
            }

            fn read(key: ApiKey, reader: &mut Reader, ctx: Ctx) -> Result<Self, WireError> {
                match key {
                    $(ApiKey::$variant => <$response>::read(reader, ctx).map(Self::$variant),)*
                }
            }

            fn write(&self, writer: &mut Writer, ctx: Ctx) {
                match self {
                    $(Self::$variant(body) => body.write(writer, ctx),)*
                }
            }
        }

        $(
            impl From<$request> for Request {
                fn from(body: $request) -> Self {
                    Self::$variant(body)
                }
            }

            impl From<$response> for Response {
                fn from(body: $response) -> Self {
                    Self::$variant(body)
                }
            }
        )*
    };
}

apis! {
    /// Produce (0).
    Produce = 0, versions 0..=9, flexible 9, ProduceRequest, ProduceResponse;
    /// Fetch (1).
    Fetch = 1, versions 0..=12, flexible 12, FetchRequest, FetchResponse;
    /// ListOffsets (2).
    ListOffsets = 2, versions 0..=7, flexible 6, ListOffsetsRequest, ListOffsetsResponse;
    /// Metadata (3).
    Metadata = 3, versions 0..=11, flexible 9, MetadataRequest, MetadataResponse;
    /// OffsetCommit (8).
    OffsetCommit = 8, versions 0..=8, flexible 8, OffsetCommitRequest, OffsetCommitResponse;
    /// OffsetFetch (9).
    OffsetFetch = 9, versions 0..=8, flexible 6, OffsetFetchRequest, OffsetFetchResponse;
    /// FindCoordinator (10).
    FindCoordinator = 10, versions 0..=4, flexible 3,
        FindCoordinatorRequest, FindCoordinatorResponse;
    /// JoinGroup (11).
    JoinGroup = 11, versions 0..=7, flexible 6, JoinGroupRequest, JoinGroupResponse;
    /// Heartbeat (12).
    Heartbeat = 12, versions 0..=4, flexible 4, HeartbeatRequest, HeartbeatResponse;
    /// LeaveGroup (13).
    LeaveGroup = 13, versions 0..=4, flexible 4, LeaveGroupRequest, LeaveGroupResponse;
    /// SyncGroup (14).
    SyncGroup = 14, versions 0..=5, flexible 4, SyncGroupRequest, SyncGroupResponse;
    /// DescribeGroups (15).
    DescribeGroups = 15, versions 0..=5, flexible 5,
        DescribeGroupsRequest, DescribeGroupsResponse;
    /// ListGroups (16).
    ListGroups = 16, versions 0..=4, flexible 3, ListGroupsRequest, ListGroupsResponse;
    /// SaslHandshake (17).
    SaslHandshake = 17, versions 0..=1, flexible NEVER,
        SaslHandshakeRequest, SaslHandshakeResponse;
    /// ApiVersions (18).
    ApiVersions = 18, versions 0..=3, flexible 3, ApiVersionsRequest, ApiVersionsResponse;
    /// CreateTopics (19).
    CreateTopics = 19, versions 0..=7, flexible 5, CreateTopicsRequest, CreateTopicsResponse;
    /// DeleteTopics (20).
    DeleteTopics = 20, versions 0..=6, flexible 4, DeleteTopicsRequest, DeleteTopicsResponse;
    /// InitProducerId (22).
    InitProducerId = 22, versions 0..=4, flexible 2,
        InitProducerIdRequest, InitProducerIdResponse;
    /// DescribeConfigs (32).
    DescribeConfigs = 32, versions 0..=4, flexible 4,
        DescribeConfigsRequest, DescribeConfigsResponse;
    /// SaslAuthenticate (36).
    SaslAuthenticate = 36, versions 0..=2, flexible 2,
        SaslAuthenticateRequest, SaslAuthenticateResponse;
    /// CreatePartitions (37).
    CreatePartitions = 37, versions 0..=3, flexible 2,
        CreatePartitionsRequest, CreatePartitionsResponse;
    /// DeleteGroups (42).
    DeleteGroups = 42, versions 0..=2, flexible 2, DeleteGroupsRequest, DeleteGroupsResponse;
    /// IncrementalAlterConfigs (44).
    IncrementalAlterConfigs = 44, versions 0..=1, flexible 1,
        IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse;
    /// DescribeCluster (60).
    DescribeCluster = 60, versions 0..=0, flexible 0,
        DescribeClusterRequest, DescribeClusterResponse;
}

impl ApiKey {
    /// True if `version` is inside the served range.
    pub fn supports(self, version: i16) -> bool {
        let range = self.range();
        version >= range.min && version <= range.max
    }

    /// True if responses at `version` use response header v1 (a tagged-field section
    /// after the correlation id). ApiVersions responses always use header v0.
    fn response_header_flexible(self, version: i16) -> bool {
        self != Self::ApiVersions && self.is_flexible(version)
    }
}

/// The request header (v1, or v2 with tagged fields in flexible versions).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestHeader {
    /// The API key as sent (it may be one weft does not serve).
    pub api_key: i16,
    /// The API version as sent.
    pub api_version: i16,
    /// The correlation id to echo in the response.
    pub correlation_id: i32,
    /// The client id (never compact, even in header v2).
    pub client_id: Option<String>,
}

/// Why a request frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The API key is not served: Kafka answers nothing and closes the connection.
    #[error("unknown api key {}", header.api_key)]
    UnknownApi {
        /// The header, decoded as far as possible.
        header: RequestHeader,
    },
    /// The version is outside the served range. For ApiVersions, answer with
    /// [`ErrorCode::UNSUPPORTED_VERSION`] and the supported list encoded at v0; for other
    /// APIs, disconnect.
    #[error("unsupported version {} of api key {}", header.api_version, header.api_key)]
    UnsupportedVersion {
        /// The decoded header.
        header: RequestHeader,
    },
    /// Truncated or invalid input.
    #[error("malformed kafka frame: {reason}")]
    Malformed {
        /// The header, if it could be decoded.
        header: Option<RequestHeader>,
        /// What is wrong.
        reason: String,
    },
}

impl DecodeError {
    fn malformed(header: Option<RequestHeader>, error: WireError) -> Self {
        Self::Malformed {
            header,
            reason: error.0,
        }
    }
}

/// An encoded response: the size prefix, header and body as chunks for `write_vectored`.
/// Fetch record sets are separate chunks that share the stored batches' memory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseFrame {
    /// The frame's bytes, in order.
    pub chunks: Vec<Bytes>,
}

impl ResponseFrame {
    /// The total length in bytes, size prefix included.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }

    /// True if the frame has no bytes (never the case for an encoded response).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The chunks copied into one buffer (for tests and small frames).
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.len());
        for chunk in &self.chunks {
            out.extend_from_slice(chunk);
        }
        Bytes::from(out)
    }
}

/// Decodes one request frame (without its 4-byte size prefix).
///
/// Never panics; array lengths are checked against the bytes left before allocating.
/// Trailing bytes after the body are ignored, as Kafka does.
pub fn decode_request(frame: Bytes) -> Result<(RequestHeader, Request), DecodeError> {
    let mut reader = Reader::new(frame);
    let mut header = RequestHeader::default();
    let fixed = (|| {
        header.api_key = reader.i16()?;
        header.api_version = reader.i16()?;
        header.correlation_id = reader.i32()?;
        Ok(())
    })();
    fixed.map_err(|error| DecodeError::malformed(None, error))?;
    let client_id = reader.nullable_string(false);
    let Ok(key) = ApiKey::try_from(header.api_key) else {
        header.client_id = client_id.ok().flatten();
        return Err(DecodeError::UnknownApi { header });
    };
    header.client_id = client_id.map_err(|error| DecodeError::malformed(None, error))?;
    if !key.supports(header.api_version) {
        return Err(DecodeError::UnsupportedVersion { header });
    }
    let ctx = Ctx {
        version: header.api_version,
        flexible: key.is_flexible(header.api_version),
    };
    let body = (|| {
        if ctx.flexible {
            reader.skip_tagged_fields()?;
        }
        Request::read(key, &mut reader, ctx)
    })();
    match body {
        Ok(request) => Ok((header, request)),
        Err(error) => Err(DecodeError::malformed(Some(header), error)),
    }
}

/// Encodes `response` as the answer to the request with `header`, at the request's
/// version. To answer an ApiVersions request of an unsupported version, pass a header
/// with `api_version` 0 (see [`ApiVersionsResponse::supported`]).
pub fn encode_response(header: &RequestHeader, response: &Response) -> ResponseFrame {
    let key = response.api_key();
    let ctx = Ctx {
        version: header.api_version,
        flexible: key.is_flexible(header.api_version),
    };
    let mut writer = Writer::with_size_prefix();
    writer.i32(header.correlation_id);
    if key.response_header_flexible(header.api_version) {
        writer.no_tagged_fields();
    }
    response.write(&mut writer, ctx);
    ResponseFrame {
        chunks: writer.finish(),
    }
}

/// Encodes a request with its size prefix (client side; the header's `api_key` is taken
/// from `request`).
pub fn encode_request(header: &RequestHeader, request: &Request) -> Bytes {
    let key = request.api_key();
    let ctx = Ctx {
        version: header.api_version,
        flexible: key.is_flexible(header.api_version),
    };
    let mut writer = Writer::with_size_prefix();
    writer.i16(key as i16);
    writer.i16(header.api_version);
    writer.i32(header.correlation_id);
    writer.nullable_string(header.client_id.as_deref(), false);
    if ctx.flexible {
        writer.no_tagged_fields();
    }
    request.write(&mut writer, ctx);
    ResponseFrame {
        chunks: writer.finish(),
    }
    .to_bytes()
}

/// Decodes a response frame (without its size prefix) to a request of `api_key` at
/// `version` (client side). The correlation id is skipped.
pub fn decode_response(api_key: i16, version: i16, frame: Bytes) -> Result<Response, DecodeError> {
    let header = RequestHeader {
        api_key,
        api_version: version,
        ..RequestHeader::default()
    };
    let Ok(key) = ApiKey::try_from(api_key) else {
        return Err(DecodeError::UnknownApi { header });
    };
    if !key.supports(version) {
        return Err(DecodeError::UnsupportedVersion { header });
    }
    let ctx = Ctx {
        version,
        flexible: key.is_flexible(version),
    };
    let mut reader = Reader::new(frame);
    let body = (|| {
        let _correlation_id = reader.i32()?;
        if key.response_header_flexible(version) {
            reader.skip_tagged_fields()?;
        }
        Response::read(key, &mut reader, ctx)
    })();
    body.map_err(|error| DecodeError::malformed(Some(header), error))
}
