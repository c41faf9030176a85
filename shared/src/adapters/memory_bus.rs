//! The in-process event bus for local runs: published events go to the in-process webhook
//! dispatcher over a channel.

use crate::domain::event::Event;
use crate::domain::ids::EventId;
use crate::ports::bus::{BusError, EventBus};
use async_trait::async_trait;
use tokio::sync::mpsc;

#[derive(Clone)]
pub struct InProcessBus {
    sender: mpsc::UnboundedSender<Event>,
}

impl InProcessBus {
    pub fn new() -> (InProcessBus, mpsc::UnboundedReceiver<Event>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (InProcessBus { sender }, receiver)
    }
}

#[async_trait]
impl EventBus for InProcessBus {
    async fn publish(&self, events: &[Event]) -> Result<Vec<EventId>, BusError> {
        let mut accepted = Vec::with_capacity(events.len());
        for event in events {
            self.sender.send(event.clone()).map_err(|_| BusError("in-process dispatcher is not running".into()))?;
            accepted.push(event.id.clone());
        }
        Ok(accepted)
    }
}
