import { jobName } from '../../training/launcher/lib/naming';
import { trainingJobNamePrefix } from '../../lib/naming';

describe('training job names', () => {
  const now = new Date('2026-11-26T08:30:05Z');

  test('start with the prefix the team alarms select jobs by', () => {
    const name = jobName({ team: 'fraud', stage: 'prod' }, 'train', now);
    expect(name).toBe('fraud-prod-train-20261126-083005');
    expect(name.startsWith(trainingJobNamePrefix({ team: 'fraud', stage: 'prod' }))).toBe(true);
  });

  test('are cut to the tuning job limit (32) without losing the time stamp', () => {
    expect(jobName({ team: 'fraud', stage: 'prod' }, 'tune', now, 32)).toBe(
      'fraud-prod-tune-20261126-083005',
    );
    // A long team and stage lose the end of the prefix first, never the stamp.
    expect(jobName({ team: 'recommendations', stage: 'staging' }, 'tune', now, 32)).toBe(
      'recommendations-20261126-083005',
    );
  });
});
