//! [`GroupError`]: the Kafka error codes the group coordinator and offset store answer with.

/// Why a group request failed, as one of Kafka's numeric error codes ([`GroupError::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum GroupError {
    /// An unexpected server error (`UNKNOWN_SERVER_ERROR`, -1).
    #[error("unexpected server error")]
    UnknownServerError,
    /// The committed metadata is larger than the coordinator accepts (`OFFSET_METADATA_TOO_LARGE`, 12).
    #[error("offset metadata too large")]
    OffsetMetadataTooLarge,
    /// The coordinator is not available, for instance shut down (`COORDINATOR_NOT_AVAILABLE`, 15).
    #[error("coordinator not available")]
    CoordinatorNotAvailable,
    /// The generation in the request is not the group's (`ILLEGAL_GENERATION`, 22).
    #[error("illegal generation")]
    IllegalGeneration,
    /// The protocol type or protocols do not match the group's (`INCONSISTENT_GROUP_PROTOCOL`, 23).
    #[error("inconsistent group protocol")]
    InconsistentGroupProtocol,
    /// The group id is empty (`INVALID_GROUP_ID`, 24).
    #[error("invalid group id")]
    InvalidGroupId,
    /// The member id is not a member of the group (`UNKNOWN_MEMBER_ID`, 25).
    #[error("unknown member id")]
    UnknownMemberId,
    /// The session timeout is outside the coordinator's bounds (`INVALID_SESSION_TIMEOUT`, 26).
    #[error("invalid session timeout")]
    InvalidSessionTimeout,
    /// The group is rebalancing: the member must rejoin (`REBALANCE_IN_PROGRESS`, 27).
    #[error("rebalance in progress")]
    RebalanceInProgress,
    /// Writing committed offsets failed (`KAFKA_STORAGE_ERROR`, 56).
    #[error("offset storage failed")]
    KafkaStorageError,
    /// The group has members, so it cannot be deleted (`NON_EMPTY_GROUP`, 68).
    #[error("group is not empty")]
    NonEmptyGroup,
    /// No group has this id (`GROUP_ID_NOT_FOUND`, 69).
    #[error("group id not found")]
    GroupIdNotFound,
    /// The member must rejoin with the member id given in the response (`MEMBER_ID_REQUIRED`, 79).
    #[error("member id required")]
    MemberIdRequired,
    /// The group is at its maximum size (`GROUP_MAX_SIZE_REACHED`, 81).
    #[error("group max size reached")]
    GroupMaxSizeReached,
    /// Another member took this static member's instance id (`FENCED_INSTANCE_ID`, 82).
    #[error("fenced instance id")]
    FencedInstanceId,
}

impl GroupError {
    /// Kafka's numeric error code.
    pub fn code(&self) -> i16 {
        match self {
            GroupError::UnknownServerError => -1,
            GroupError::OffsetMetadataTooLarge => 12,
            GroupError::CoordinatorNotAvailable => 15,
            GroupError::IllegalGeneration => 22,
            GroupError::InconsistentGroupProtocol => 23,
            GroupError::InvalidGroupId => 24,
            GroupError::UnknownMemberId => 25,
            GroupError::InvalidSessionTimeout => 26,
            GroupError::RebalanceInProgress => 27,
            GroupError::KafkaStorageError => 56,
            GroupError::NonEmptyGroup => 68,
            GroupError::GroupIdNotFound => 69,
            GroupError::MemberIdRequired => 79,
            GroupError::GroupMaxSizeReached => 81,
            GroupError::FencedInstanceId => 82,
        }
    }
}

/// Kafka's code for a result: 0 for success.
pub fn error_code<T>(result: &Result<T, GroupError>) -> i16 {
    result.as_ref().err().map_or(0, GroupError::code)
}

/// Kafka's code for an optional error: 0 for none.
pub fn optional_code(error: Option<GroupError>) -> i16 {
    error.map_or(0, |error| error.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_kafka_protocol_guide() {
        let expected = [
            (GroupError::UnknownServerError, -1),
            (GroupError::OffsetMetadataTooLarge, 12),
            (GroupError::CoordinatorNotAvailable, 15),
            (GroupError::IllegalGeneration, 22),
            (GroupError::InconsistentGroupProtocol, 23),
            (GroupError::InvalidGroupId, 24),
            (GroupError::UnknownMemberId, 25),
            (GroupError::InvalidSessionTimeout, 26),
            (GroupError::RebalanceInProgress, 27),
            (GroupError::KafkaStorageError, 56),
            (GroupError::NonEmptyGroup, 68),
            (GroupError::GroupIdNotFound, 69),
            (GroupError::MemberIdRequired, 79),
            (GroupError::GroupMaxSizeReached, 81),
            (GroupError::FencedInstanceId, 82),
        ];
        for (error, code) in expected {
            assert_eq!(error.code(), code, "{error}");
        }
        assert_eq!(error_code::<()>(&Ok(())), 0);
        assert_eq!(optional_code(Some(GroupError::NonEmptyGroup)), 68);
    }
}
