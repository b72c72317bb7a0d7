//! The CloudEvents JSON event format (`application/cloudevents+json`) and its batch
//! form (`application/cloudevents-batch+json`).
