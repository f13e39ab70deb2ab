// What a staff member's roles let them see in the console (the API decides what they may do).

/** Whether `me` administers a jurisdiction: broadcasts, staff and boundaries are theirs. */
export function administers(me) {
  return me.roles.includes('jurisdiction_admin') || me.roles.includes('platform_admin');
}
