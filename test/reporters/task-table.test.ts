// MetaSchedule's task table, as the table reporter prints it.
import { formatG, renderTaskTable } from '../../src/reporters/task-table';

describe('renderTaskTable', () => {
  it('prints MetaSchedule\'s table verbatim', () => {
    const lines = renderTaskTable([
      { id: 0, name: 'main', flop: 4194304, weight: 1, latencySec: 119.2934e-6, trials: 4, done: true },
    ]);
    expect(lines.join('\n')).toBe(
      [
        ' ID | Name |    FLOP | Weight | Speed (GFLOPS) | Latency (us) | Weighted Latency (us) | Trials | Done ',
        '------------------------------------------------------------------------------------------------------',
        '  0 | main | 4194304 |      1 |        35.1596 |     119.2934 |              119.2934 |      4 |    Y ',
        '------------------------------------------------------------------------------------------------------',
        'Total trials: 4',
        'Total latency (us): 119.293',
      ].join('\n'),
    );
  });

  it('shows N/A before the first successful trial', () => {
    const [, , row] = renderTaskTable([{ id: 0, name: 'main', flop: 10, weight: 1, trials: 0, done: false }]);
    expect(row).toContain('N/A');
  });

  it('formats totals as C++ streams do', () => {
    expect([119.2934, 1234567, 1e-5, 100].map((x) => formatG(x))).toEqual(['119.293', '1.23457e+06', '1e-05', '100']);
  });
});
