//! The in-process tx queue for local runs: execute hands the message straight to the
//! watcher running in the same process.

use crate::ports::queue::{QueueError, TxMessage, TxQueue};
use async_trait::async_trait;
use tokio::sync::mpsc;

#[derive(Clone)]
pub struct InProcessQueue {
    sender: mpsc::UnboundedSender<TxMessage>,
}

impl InProcessQueue {
    pub fn new() -> (InProcessQueue, mpsc::UnboundedReceiver<TxMessage>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (InProcessQueue { sender }, receiver)
    }
}

#[async_trait]
impl TxQueue for InProcessQueue {
    async fn enqueue(&self, message: &TxMessage) -> Result<(), QueueError> {
        // A closed receiver means no watcher runs in this process; the scheduled sweep still
        // finds every executed intent, so the message is a hint, not the only path.
        self.sender.send(message.clone()).map_err(|_| QueueError("in-process watcher is not running".into()))
    }
}
