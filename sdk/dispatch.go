package sdk

import "sync"

// dispatcher fans values out to subscribers, each with its own goroutine and
// unbounded queue, so that a slow callback never blocks the stream or the
// other subscribers.
type dispatcher[T any] struct {
	mu     sync.Mutex
	subs   map[*subscriber[T]]struct{}
	closed bool
	wg     sync.WaitGroup
}

type subscriber[T any] struct {
	fn       func(T)
	mu       sync.Mutex
	queue    []T
	wake     chan struct{} // capacity 1: "the queue may be non-empty"
	stop     chan struct{}
	stopOnce sync.Once
}

func newDispatcher[T any]() *dispatcher[T] {
	return &dispatcher[T]{subs: map[*subscriber[T]]struct{}{}}
}

// subscribe registers fn and returns the function that removes it.
func (d *dispatcher[T]) subscribe(fn func(T)) (unsubscribe func()) {
	s := &subscriber[T]{fn: fn, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return func() {}
	}
	d.subs[s] = struct{}{}
	d.wg.Add(1)
	d.mu.Unlock()
	go s.loop(&d.wg)
	return func() {
		d.mu.Lock()
		delete(d.subs, s)
		d.mu.Unlock()
		s.halt()
	}
}

// publish queues v for every subscriber; it never waits for a callback.
func (d *dispatcher[T]) publish(v T) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for s := range d.subs {
		s.push(v)
	}
}

// close stops every subscriber and waits for callbacks in flight to return.
func (d *dispatcher[T]) close() {
	d.mu.Lock()
	d.closed = true
	for s := range d.subs {
		s.halt()
	}
	clear(d.subs)
	d.mu.Unlock()
	d.wg.Wait()
}

func (s *subscriber[T]) push(v T) {
	s.mu.Lock()
	s.queue = append(s.queue, v)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber[T]) halt() { s.stopOnce.Do(func() { close(s.stop) }) }

func (s *subscriber[T]) loop(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		for _, v := range batch {
			select {
			case <-s.stop:
				return
			default:
			}
			s.fn(v)
		}
	}
}
