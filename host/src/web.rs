//! The web side of the console: what a browser needs beyond the JSON API — the console's
//! pages and files (`console()`), and the live log, a server-sent event stream of a
//! company's log lines as they are kept.

mod assets;
mod live;
mod pages;

pub use live::__path_stream;
pub use live::stream;
pub use pages::console;
