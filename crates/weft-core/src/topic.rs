//! Topics and filters: validated, hierarchical names. (placeholder; being built)

/// A topic. (placeholder)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Topic(String);

/// A filter. (placeholder)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Filter(String);

/// A topic error. (placeholder)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid topic")]
pub struct TopicError;
