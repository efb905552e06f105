//! The web side of the console: what a browser needs beyond the JSON API. Today that is
//! the live log, a server-sent event stream of a company's log lines as they are kept.

mod live;

pub use live::__path_stream;
pub use live::stream;
