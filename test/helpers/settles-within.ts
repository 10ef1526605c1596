/** 'closed', or 'still closing' when `close` has not settled within `ms` (a close that hangs never would). */
export async function settlesWithin(ms: number, close: () => Promise<unknown>): Promise<'closed' | 'still closing'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still closing'>((resolve) => {
    timer = setTimeout(() => resolve('still closing'), ms);
  });
  try {
    return await Promise.race([close().then(() => 'closed' as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
