// A clock for the planner's time limit that moves one millisecond per read: a limit becomes a
// number of the search's own clock reads (it reads every 1,024 exact steps and every 64 local
// iterations), so that a test's outcome does not depend on how busy the machine is.
export function countingClock(): { now: () => number; read: () => number } {
  let t = 0;
  return { now: () => ++t, read: () => t };
}
