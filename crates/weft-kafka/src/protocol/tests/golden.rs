//! Golden bytes, assembled field by field from the Kafka message schemas.

use bytes::Bytes;
use uuid::Uuid;

use super::*;

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Request header v1: api key, version, correlation id 1, client id "ab".
fn header_v1(key: u8, version: u8) -> Vec<u8> {
    cat(&[&[0, key, 0, version], &[0, 0, 0, 1], &[0, 2, b'a', b'b']])
}

/// Request header v2: header v1 plus an empty tagged-field section.
fn header_v2(key: u8, version: u8) -> Vec<u8> {
    cat(&[&header_v1(key, version), &[0]])
}

const CORRELATION: &[u8] = &[0, 0, 0, 1];

#[test]
fn api_versions_v0_request_is_a_bare_header() {
    assert_request_golden(
        0,
        Request::ApiVersions(ApiVersionsRequest::default()),
        &header_v1(18, 0),
    );
}

#[test]
fn api_versions_v3_request_is_flexible_with_client_software() {
    let wire = cat(&[
        &header_v2(18, 3),
        &[5, b'w', b'e', b'f', b't'], // client_software_name: compact string, len+1
        &[6, b'0', b'.', b'1', b'.', b'0'], // client_software_version
        &[0],                         // tagged fields
    ]);
    let request = ApiVersionsRequest {
        client_software_name: "weft".into(),
        client_software_version: "0.1.0".into(),
    };
    assert_request_golden(3, Request::ApiVersions(request), &wire);
}

fn one_api() -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code: ErrorCode::NONE,
        api_keys: vec![ApiVersion {
            api_key: 0,
            min_version: 0,
            max_version: 9,
        }],
        throttle_time_ms: 0,
    }
}

#[test]
fn api_versions_v0_response() {
    let wire = cat(&[
        CORRELATION,
        &[0, 0],             // error_code
        &[0, 0, 0, 1],       // api_keys: int32 count
        &[0, 0, 0, 0, 0, 9], // Produce 0..=9
    ]);
    assert_response_golden(0, Response::ApiVersions(one_api()), &wire);
}

#[test]
fn api_versions_v3_response_keeps_header_v0() {
    let wire = cat(&[
        CORRELATION,            // response header v0: no tagged fields even though v3 is flexible
        &[0, 0],                // error_code
        &[2],                   // api_keys: compact count (1 + 1)
        &[0, 0, 0, 0, 0, 9, 0], // Produce 0..=9, entry tagged fields
        &[0, 0, 0, 0],          // throttle_time_ms
        &[0],                   // tagged fields
    ]);
    assert_response_golden(3, Response::ApiVersions(one_api()), &wire);
}

#[test]
fn metadata_v1_request_names_topics() {
    let wire = cat(&[&header_v1(3, 1), &[0, 0, 0, 1], &[0, 1, b't']]);
    let request = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            topic_id: Uuid::nil(),
            name: Some("t".into()),
        }]),
        ..MetadataRequest::default()
    };
    assert_request_golden(1, Request::Metadata(request), &wire);
}

#[test]
fn metadata_v0_empty_topic_list_means_all_topics() {
    let wire = cat(&[&header_v1(3, 0), &[0, 0, 0, 0]]);
    assert_request_golden(0, Request::Metadata(MetadataRequest::default()), &wire);
}

fn metadata_response(version: i16) -> MetadataResponse {
    MetadataResponse {
        throttle_time_ms: 0,
        brokers: vec![MetadataResponseBroker {
            node_id: 1,
            host: "h".into(),
            port: 9092,
            rack: None,
        }],
        cluster_id: (version >= 2).then(|| "weft".into()),
        controller_id: 1,
        topics: vec![MetadataResponseTopic {
            error_code: ErrorCode::NONE,
            name: "t".into(),
            topic_id: Uuid::nil(),
            is_internal: false,
            partitions: vec![MetadataResponsePartition {
                error_code: ErrorCode::NONE,
                partition_index: 0,
                leader_id: 1,
                leader_epoch: if version >= 7 { 0 } else { -1 },
                replica_nodes: vec![1],
                isr_nodes: vec![1],
                offline_replicas: vec![],
            }],
            topic_authorized_operations: i32::MIN,
        }],
        cluster_authorized_operations: i32::MIN,
    }
}

#[test]
fn metadata_v1_response() {
    let wire = cat(&[
        CORRELATION,
        &[0, 0, 0, 1],             // brokers: 1
        &[0, 0, 0, 1],             //   node_id
        &[0, 1, b'h'],             //   host
        &[0, 0, 0x23, 0x84],       //   port 9092
        &[0xff, 0xff],             //   rack: null (v1+)
        &[0, 0, 0, 1],             // controller_id (v1+)
        &[0, 0, 0, 1],             // topics: 1
        &[0, 0],                   //   error_code
        &[0, 1, b't'],             //   name
        &[0],                      //   is_internal (v1+)
        &[0, 0, 0, 1],             //   partitions: 1
        &[0, 0],                   //     error_code
        &[0, 0, 0, 0],             //     partition_index
        &[0, 0, 0, 1],             //     leader_id
        &[0, 0, 0, 1, 0, 0, 0, 1], //     replica_nodes [1]
        &[0, 0, 0, 1, 0, 0, 0, 1], //     isr_nodes [1]
    ]);
    assert_response_golden(1, Response::Metadata(metadata_response(1)), &wire);
}

#[test]
fn metadata_v9_request_is_flexible() {
    let wire = cat(&[
        &header_v2(3, 9),
        &[2],          // topics: compact count
        &[2, b't', 0], //   name (compact nullable), tagged fields
        &[1],          // allow_auto_topic_creation
        &[0],          // include_cluster_authorized_operations (v8-10)
        &[0],          // include_topic_authorized_operations
        &[0],          // tagged fields
    ]);
    let request = MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            topic_id: Uuid::nil(),
            name: Some("t".into()),
        }]),
        allow_auto_topic_creation: true,
        ..MetadataRequest::default()
    };
    assert_request_golden(9, Request::Metadata(request), &wire);
}

#[test]
fn metadata_v9_response_is_flexible() {
    let wire = cat(&[
        CORRELATION,
        &[0],                         // response header v1 tagged fields
        &[0, 0, 0, 0],                // throttle_time_ms
        &[2],                         // brokers: compact count
        &[0, 0, 0, 1],                //   node_id
        &[2, b'h'],                   //   host
        &[0, 0, 0x23, 0x84],          //   port
        &[0],                         //   rack: compact null
        &[0],                         //   tagged fields
        &[5, b'w', b'e', b'f', b't'], // cluster_id
        &[0, 0, 0, 1],                // controller_id
        &[2],                         // topics
        &[0, 0],                      //   error_code
        &[2, b't'],                   //   name
        &[0],                         //   is_internal
        &[2],                         //   partitions
        &[0, 0],                      //     error_code
        &[0, 0, 0, 0],                //     partition_index
        &[0, 0, 0, 1],                //     leader_id
        &[0, 0, 0, 0],                //     leader_epoch (v7+)
        &[2, 0, 0, 0, 1],             //     replica_nodes
        &[2, 0, 0, 0, 1],             //     isr_nodes
        &[1],                         //     offline_replicas: empty (v5+)
        &[0],                         //     tagged fields
        &[0x80, 0, 0, 0],             //   topic_authorized_operations (v8+)
        &[0],                         //   tagged fields
        &[0x80, 0, 0, 0],             // cluster_authorized_operations (v8-10)
        &[0],                         // tagged fields
    ]);
    assert_response_golden(9, Response::Metadata(metadata_response(9)), &wire);
}

fn produce_request(records: &'static [u8]) -> ProduceRequest {
    ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 30_000,
        topics: vec![ProduceTopic {
            name: "t".into(),
            partitions: vec![ProducePartition {
                index: 0,
                records: Some(Bytes::from_static(records)),
            }],
        }],
    }
}

#[test]
fn produce_v3_request() {
    let wire = cat(&[
        &header_v1(0, 3),
        &[0xff, 0xff],          // transactional_id: null (v3+)
        &[0xff, 0xff],          // acks -1
        &[0, 0, 0x75, 0x30],    // timeout_ms 30000
        &[0, 0, 0, 1],          // topics
        &[0, 1, b't'],          //   name
        &[0, 0, 0, 1],          //   partitions
        &[0, 0, 0, 0],          //     index
        &[0, 0, 0, 3, 1, 2, 3], //     records (nullable bytes)
    ]);
    assert_request_golden(3, Request::Produce(produce_request(&[1, 2, 3])), &wire);
}

#[test]
fn produce_v9_request_is_flexible() {
    let wire = cat(&[
        &header_v2(0, 9),
        &[0],                // transactional_id: compact null
        &[0xff, 0xff],       // acks
        &[0, 0, 0x75, 0x30], // timeout_ms
        &[2],                // topics
        &[2, b't'],          //   name
        &[2],                //   partitions
        &[0, 0, 0, 0],       //     index
        &[4, 1, 2, 3],       //     records: compact nullable bytes
        &[0],                //     tagged fields
        &[0],                //   tagged fields
        &[0],                // tagged fields
    ]);
    assert_request_golden(9, Request::Produce(produce_request(&[1, 2, 3])), &wire);
}

#[test]
fn produce_records_are_slices_of_the_frame() {
    let frame = Bytes::from(cat(&[
        &header_v1(0, 3),
        &[
            0xff, 0xff, 0xff, 0xff, 0, 0, 0x75, 0x30, 0, 0, 0, 1, 0, 1, b't',
        ],
        &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3],
    ]));
    let (_, request) = decode_request(frame.clone()).unwrap();
    let Request::Produce(produce) = request else {
        panic!("not a produce request");
    };
    let records = produce.topics[0].partitions[0].records.clone().unwrap();
    let offset = records.as_ptr() as usize - frame.as_ptr() as usize;
    assert_eq!(offset, frame.len() - 3);
}

fn produce_response(version: i16) -> ProduceResponse {
    ProduceResponse {
        responses: vec![ProduceTopicResponse {
            name: "t".into(),
            partitions: vec![ProducePartitionResponse {
                index: 0,
                error_code: ErrorCode::NONE,
                base_offset: 42,
                log_append_time_ms: -1,
                log_start_offset: if version >= 5 { 0 } else { -1 },
                record_errors: vec![],
                error_message: None,
            }],
        }],
        throttle_time_ms: 0,
    }
}

#[test]
fn produce_v3_response() {
    let wire = cat(&[
        CORRELATION,
        &[0, 0, 0, 1],              // responses
        &[0, 1, b't'],              //   name
        &[0, 0, 0, 1],              //   partitions
        &[0, 0, 0, 0],              //     index
        &[0, 0],                    //     error_code
        &[0, 0, 0, 0, 0, 0, 0, 42], //     base_offset
        &[0xff; 8],                 //     log_append_time_ms (v2+)
        &[0, 0, 0, 0],              // throttle_time_ms (v1+)
    ]);
    assert_response_golden(3, Response::Produce(produce_response(3)), &wire);
}

#[test]
fn produce_v9_response_is_flexible() {
    let wire = cat(&[
        CORRELATION,
        &[0],                       // header tagged fields
        &[2],                       // responses
        &[2, b't'],                 //   name
        &[2],                       //   partitions
        &[0, 0, 0, 0],              //     index
        &[0, 0],                    //     error_code
        &[0, 0, 0, 0, 0, 0, 0, 42], //     base_offset
        &[0xff; 8],                 //     log_append_time_ms
        &[0; 8],                    //     log_start_offset (v5+)
        &[1],                       //     record_errors: empty (v8+)
        &[0],                       //     error_message: null (v8+)
        &[0],                       //     tagged fields
        &[0],                       //   tagged fields
        &[0, 0, 0, 0],              // throttle_time_ms
        &[0],                       // tagged fields
    ]);
    assert_response_golden(9, Response::Produce(produce_response(9)), &wire);
}

fn fetch_request() -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms: 500,
        min_bytes: 1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: "t".into(),
            partitions: vec![FetchPartition {
                partition: 0,
                fetch_offset: 5,
                partition_max_bytes: 1 << 20,
                ..FetchPartition::default()
            }],
        }],
        ..FetchRequest::default()
    }
}

#[test]
fn fetch_v4_request() {
    let wire = cat(&[
        &header_v1(1, 4),
        &[0xff; 4],                // replica_id -1
        &[0, 0, 0x01, 0xf4],       // max_wait_ms 500
        &[0, 0, 0, 1],             // min_bytes
        &[0, 0x10, 0, 0],          // max_bytes (v3+)
        &[0],                      // isolation_level (v4+)
        &[0, 0, 0, 1],             // topics
        &[0, 1, b't'],             //   topic
        &[0, 0, 0, 1],             //   partitions
        &[0, 0, 0, 0],             //     partition
        &[0, 0, 0, 0, 0, 0, 0, 5], //     fetch_offset
        &[0, 0x10, 0, 0],          //     partition_max_bytes
    ]);
    assert_request_golden(4, Request::Fetch(fetch_request()), &wire);
}

fn fetch_v12_request_wire(body_tags: &[u8]) -> Vec<u8> {
    cat(&[
        &header_v2(1, 12),
        &[0xff; 4],                // replica_id
        &[0, 0, 0x01, 0xf4],       // max_wait_ms
        &[0, 0, 0, 1],             // min_bytes
        &[0, 0x10, 0, 0],          // max_bytes
        &[0],                      // isolation_level
        &[0, 0, 0, 0],             // session_id (v7+)
        &[0xff; 4],                // session_epoch -1 (v7+)
        &[2],                      // topics
        &[2, b't'],                //   topic
        &[2],                      //   partitions
        &[0, 0, 0, 0],             //     partition
        &[0xff; 4],                //     current_leader_epoch (v9+)
        &[0, 0, 0, 0, 0, 0, 0, 5], //     fetch_offset
        &[0xff; 4],                //     last_fetched_epoch (v12+)
        &[0xff; 8],                //     log_start_offset (v5+)
        &[0, 0x10, 0, 0],          //     partition_max_bytes
        &[0],                      //     tagged fields
        &[0],                      //   tagged fields
        &[1],                      // forgotten_topics_data: empty (v7+)
        &[1],                      // rack_id: "" (v11+)
        body_tags,
    ])
}

#[test]
fn fetch_v12_request_is_flexible() {
    assert_request_golden(
        12,
        Request::Fetch(fetch_request()),
        &fetch_v12_request_wire(&[0]),
    );
}

#[test]
fn fetch_v12_request_skips_the_cluster_id_tag() {
    // One tagged field: tag 0 (ClusterId), size 2, compact string "x".
    let wire = fetch_v12_request_wire(&[1, 0, 2, 2, b'x']);
    let (_, request) = decode_request(Bytes::from(wire)).unwrap();
    assert_eq!(request, Request::Fetch(fetch_request()));
}

fn fetch_response(records: Vec<Bytes>) -> FetchResponse {
    FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: "t".into(),
            partitions: vec![FetchPartitionData {
                partition_index: 0,
                error_code: ErrorCode::NONE,
                high_watermark: 10,
                last_stable_offset: 10,
                log_start_offset: 0,
                aborted_transactions: None,
                preferred_read_replica: -1,
                records,
            }],
        }],
        ..FetchResponse::default()
    }
}

#[test]
fn fetch_v4_response_splices_record_sets_as_chunks() {
    let first = Bytes::from_static(b"abc");
    let second = Bytes::from_static(b"de");
    let response = Response::Fetch(fetch_response(vec![first.clone(), second.clone()]));
    let frame = encode_response(&header(ApiKey::Fetch, 4), &response);
    let wire = cat(&[
        CORRELATION,
        &[0, 0, 0, 0],              // throttle_time_ms (v1+)
        &[0, 0, 0, 1],              // responses
        &[0, 1, b't'],              //   topic
        &[0, 0, 0, 1],              //   partitions
        &[0, 0, 0, 0],              //     partition_index
        &[0, 0],                    //     error_code
        &[0, 0, 0, 0, 0, 0, 0, 10], //     high_watermark
        &[0, 0, 0, 0, 0, 0, 0, 10], //     last_stable_offset (v4+)
        &[0xff; 4],                 //     aborted_transactions: null (v4+)
        &[0, 0, 0, 5],              //     records: length is the sum of the batches
        b"abcde",
    ]);
    assert_eq!(frame.to_bytes().as_ref(), with_prefix(&wire).as_slice());
    assert_eq!(frame.chunks.len(), 3);
    assert_eq!(frame.chunks[1].as_ptr(), first.as_ptr());
    assert_eq!(frame.chunks[2].as_ptr(), second.as_ptr());
    // Decoding gives the record sets back as one chunk.
    let mut expected = fetch_response(vec![Bytes::from_static(b"abcde")]);
    expected.responses[0].partitions[0].log_start_offset = -1; // absent before v5
    let decoded = decode_response(1, 4, Bytes::from(wire)).unwrap();
    assert_eq!(decoded, Response::Fetch(expected));
}

#[test]
fn fetch_v12_response_is_flexible() {
    let wire = cat(&[
        CORRELATION,
        &[0],                       // header tagged fields
        &[0, 0, 0, 0],              // throttle_time_ms
        &[0, 0],                    // error_code (v7+)
        &[0, 0, 0, 0],              // session_id (v7+)
        &[2],                       // responses
        &[2, b't'],                 //   topic
        &[2],                       //   partitions
        &[0, 0, 0, 0],              //     partition_index
        &[0, 0],                    //     error_code
        &[0, 0, 0, 0, 0, 0, 0, 10], //     high_watermark
        &[0, 0, 0, 0, 0, 0, 0, 10], //     last_stable_offset
        &[0; 8],                    //     log_start_offset (v5+)
        &[0],                       //     aborted_transactions: compact null
        &[0xff; 4],                 //     preferred_read_replica (v11+)
        &[6],                       //     records: compact length 5 + 1
        b"abcde",
        &[0], //     tagged fields
        &[0], //   tagged fields
        &[0], // tagged fields
    ]);
    let response = fetch_response(vec![Bytes::from_static(b"abcde")]);
    assert_response_golden(12, Response::Fetch(response), &wire);
}

#[test]
fn fetch_response_with_no_records_has_one_chunk() {
    let frame = encode_response(
        &header(ApiKey::Fetch, 12),
        &Response::Fetch(fetch_response(vec![])),
    );
    assert_eq!(frame.chunks.len(), 1);
}

#[test]
fn join_group_v5_request() {
    let wire = cat(&[
        &header_v1(11, 5),
        &[0, 1, b'g'],       // group_id
        &[0, 0, 0x27, 0x10], // session_timeout_ms 10000
        &[0, 0, 0x75, 0x30], // rebalance_timeout_ms 30000 (v1+)
        &[0, 0],             // member_id ""
        &[0xff, 0xff],       // group_instance_id: null (v5+)
        &[0, 8],
        b"consumer",   // protocol_type
        &[0, 0, 0, 1], // protocols
        &[0, 5],
        b"range",               //   name
        &[0, 0, 0, 3, 0, 1, 2], //   metadata (bytes)
    ]);
    let request = JoinGroupRequest {
        group_id: "g".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        member_id: String::new(),
        group_instance_id: None,
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: Bytes::from_static(&[0, 1, 2]),
        }],
    };
    assert_request_golden(5, Request::JoinGroup(request), &wire);
}

#[test]
fn join_group_v5_response() {
    let wire = cat(&[
        CORRELATION,
        &[0, 0, 0, 0], // throttle_time_ms (v2+)
        &[0, 0],       // error_code
        &[0, 0, 0, 1], // generation_id
        &[0, 5],
        b"range",      // protocol_name
        &[0, 1, b'm'], // leader
        &[0, 1, b'm'], // member_id
        &[0, 0, 0, 1], // members
        &[0, 1, b'm'], //   member_id
        &[0xff, 0xff], //   group_instance_id (v5+)
        &[0, 0, 0, 0], //   metadata: empty
    ]);
    let response = JoinGroupResponse {
        generation_id: 1,
        protocol_name: Some("range".into()),
        leader: "m".into(),
        member_id: "m".into(),
        members: vec![JoinGroupResponseMember {
            member_id: "m".into(),
            group_instance_id: None,
            metadata: Bytes::new(),
        }],
        ..JoinGroupResponse::default()
    };
    assert_response_golden(5, Response::JoinGroup(response), &wire);
}

#[test]
fn find_coordinator_v4_request_batches_keys() {
    let wire = cat(&[
        &header_v2(10, 4),
        &[0],          // key_type (v1+)
        &[2, 2, b'g'], // coordinator_keys (v4+): ["g"]
        &[0],          // tagged fields
    ]);
    let request = FindCoordinatorRequest {
        coordinator_keys: vec!["g".into()],
        ..FindCoordinatorRequest::default()
    };
    assert_request_golden(4, Request::FindCoordinator(request), &wire);
}

#[test]
fn find_coordinator_v4_response() {
    let wire = cat(&[
        CORRELATION,
        &[0],                // header tagged fields
        &[0, 0, 0, 0],       // throttle_time_ms
        &[2],                // coordinators (v4+)
        &[2, b'g'],          //   key
        &[0, 0, 0, 1],       //   node_id
        &[2, b'h'],          //   host
        &[0, 0, 0x23, 0x84], //   port
        &[0, 0],             //   error_code
        &[0],                //   error_message: null
        &[0],                //   tagged fields
        &[0],                // tagged fields
    ]);
    let response = FindCoordinatorResponse {
        coordinators: vec![Coordinator {
            key: "g".into(),
            node_id: 1,
            host: "h".into(),
            port: 9092,
            error_code: ErrorCode::NONE,
            error_message: None,
        }],
        ..FindCoordinatorResponse::default()
    };
    assert_response_golden(4, Response::FindCoordinator(response), &wire);
}

#[test]
fn unsupported_api_versions_answer_is_encoded_at_v0() {
    let response = ApiVersionsResponse::supported(ErrorCode::UNSUPPORTED_VERSION);
    let count = SUPPORTED_APIS.len();
    let mut header = header(ApiKey::ApiVersions, 0);
    header.correlation_id = 7;
    let frame = encode_response(&header, &Response::ApiVersions(response)).to_bytes();
    // size, correlation id, error 35, int32 count, 6 bytes per API, no throttle time.
    assert_eq!(frame.len(), 4 + 4 + 2 + 4 + 6 * count);
    assert_eq!(&frame[4..10], &[0, 0, 0, 7, 0, 35]);
    assert_eq!(&frame[10..14], &(count as i32).to_be_bytes());
}
