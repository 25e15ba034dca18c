/** Progress reporting in ~10% steps over a known amount of work. */
export class Progress {
  private done = 0;
  private tenth = 1;
  private nextMark: number;
  label = '';

  constructor(
    private readonly total: number,
    private readonly log: ((msg: string) => void) | undefined,
  ) {
    this.nextMark = Math.max(1, Math.ceil(total / 10));
  }

  tick(units = 1): void {
    this.done += units;
    if (this.done < this.nextMark) return;
    while (this.nextMark <= this.done && this.tenth <= 10) this.nextMark = Math.ceil((++this.tenth * this.total) / 10);
    if (this.tenth > 10) this.nextMark = Infinity;
    const pct = Math.min(100, Math.round((this.done / this.total) * 100));
    this.log?.(`generate: ${pct}%${this.label ? ` (${this.label})` : ''}`);
  }
}
